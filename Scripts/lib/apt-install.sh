# Sourced by the ensure-*.sh scripts: apt_install PACKAGE... installs Debian packages with apt-get
# when we are root (or have passwordless sudo), running `apt-get update` first only if the plain
# install fails; otherwise it names the command to run and returns 1.
apt_install() {
    local apt_get
    if [ "$(id -u)" -eq 0 ]; then
        apt_get=(apt-get)
    elif sudo -n true 2>/dev/null; then
        apt_get=(sudo -n apt-get)
    else
        echo "missing: $*; this user cannot install it: run 'sudo apt-get install -y $*'" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y "$@" >/dev/null \
        || { DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y "$@" >/dev/null; }
}
