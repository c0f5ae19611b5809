#!/usr/bin/env python3
"""Checks that every command the documentation shows is exercised, so that the docs cannot rot.

Every ```sh block in README.md and Documentation/*.md must be one of:
  - in a walkthrough that Scripts/doc-run.sh runs command by command (WALKTHROUGHS below);
  - right after `<!-- doc-run: skip (REASON) -->`, for commands that cannot run here (a Raspberry
    Pi, real sensors), with the reason;
  - right after `<!-- exercised by: PATH, PATH... -->`, naming the scripts or tests that run it.
    For each command of the block, the program (after `sudo`, `swift run`, `bash`) and its
    subcommand, if it has one, must appear in one of those files.
Usage: Scripts/check-doc-commands.py  (exit 1 with the reasons when a block breaks the rule)
       Scripts/check-doc-commands.py --extract FILE.md
           prints the blocks of FILE.md that are not marked skip, as one script, for
           Scripts/doc-run.sh (exit 1 for a skip without a reason, or no block to run)
"""
import pathlib, re, shlex, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
WALKTHROUGHS = {"Documentation/WritingAModule.md", "Documentation/Delivery.md"}   # run by Scripts/doc-run.sh in Scripts/test.sh
SHELL = {"cd", "cp", "mkdir", "cat", "sed", "echo", "export", "kill", "wait", "sleep", "ls", "rm", "tar",
         "curl", "git", "grep", "test", "true", "chmod", "sh", ".", "source"}

def documents():
    yield ROOT / "README.md"
    yield from sorted((ROOT / "Documentation").glob("*.md"))

def blocks(text):
    """(line number, marker line before it, the block's lines) for every ```sh block."""
    lines, previous = text.split("\n"), ""
    i = 0
    while i < len(lines):
        if re.fullmatch(r"```sh\s*", lines[i]):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i]); i += 1
            yield start, previous, body
            previous = ""
        elif lines[i].strip():
            previous = lines[i].strip()
        i += 1

def command_words(line):
    """The program and its subcommand, or None for shell built-ins and blank lines."""
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith("#"):
        return None
    line = re.split(r"\s*(?:&&|\|\||\||;|&)\s*", line)[0]
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    while words and (words[0] in ("sudo", "bash", "exec") or re.fullmatch(r"[A-Z_]+=.*", words[0])):
        words = words[1:]
    if words[:2] == ["swift", "run"]:
        words = words[2:]
    if not words or words[0] in SHELL:
        return None
    program = words[0]
    sub = words[1] if len(words) > 1 and re.fullmatch(r"[a-z][a-z0-9-]*", words[1]) else None
    return program, sub

SKIP = re.compile(r"<!-- doc-run: skip \((.+)\) -->")

def extract(path):
    """The runnable blocks of one walkthrough, each after a `# FILE:LINE` comment."""
    path = pathlib.Path(path).resolve()
    script, problems = [], []
    for line, marker, body in blocks(path.read_text()):
        if marker.startswith("<!-- doc-run: skip"):
            if not SKIP.fullmatch(marker):
                problems.append(f"{path}:{line}: a doc-run skip needs a reason: <!-- doc-run: skip (why) -->")
            continue
        script += [f"# {path}:{line}"] + body
    if not script:
        problems.append(f"{path}: no ```sh block to run")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print("\n".join(script))
    sys.exit(0)

if sys.argv[1:2] == ["--extract"] and len(sys.argv) == 3:
    extract(sys.argv[2])

failures = []
for doc in documents():
    rel = doc.relative_to(ROOT).as_posix()
    for line, marker, body in blocks(doc.read_text()):
        where = f"{rel}:{line}"
        if rel in WALKTHROUGHS and not marker.startswith("<!-- doc-run: skip"):
            continue
        if SKIP.fullmatch(marker):
            continue
        m = re.fullmatch(r"<!-- exercised by: (.+) -->", marker)
        if not m:
            failures.append(f"{where}: a ```sh block needs <!-- exercised by: FILES --> or <!-- doc-run: skip (REASON) --> before it")
            continue
        files = [p.strip() for p in m.group(1).split(",")]
        texts = []
        for name in files:
            path = ROOT / name
            if not path.is_file():
                failures.append(f"{where}: 'exercised by' names {name}, which does not exist")
            else:
                texts.append(path.read_text(errors="replace"))
        for command in filter(None, map(command_words, body)):
            program, sub = command
            name = program.rsplit("/", 1)[-1] if program.startswith(("./", "/")) else program
            found = any(name in t and (sub is None or re.search(r"\b" + re.escape(sub) + r"\b", t)) for t in texts)
            if not found:
                failures.append(f"{where}: '{program}{' ' + sub if sub else ''}' appears in none of {', '.join(files)}")

if failures:
    print("\n".join(failures))
    print(f"check-doc-commands: {len(failures)} problem(s)")
    sys.exit(1)
print("check-doc-commands: every sh block of the documentation is exercised or says why not")
