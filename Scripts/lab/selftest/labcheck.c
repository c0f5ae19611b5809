/*
 * labcheck — runs inside the lab guest (Scripts/lab/selftest.sh) and checks the fixture contract
 * from the user-space side: the gpio-sim chips through the character device (uAPI v1 ioctls),
 * the simulated pull through the legacy sysfs interface, and the i2c-stub preload through SMBus.
 * Exits 0 when every check passes, 10 otherwise, or with argv[1] when given (exit-code test).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int failures, passes;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) passes++; else failures++;
}

static int read_text(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r < 0) return -1;
    buf[r] = 0;
    while (r > 0 && buf[r - 1] == '\n') buf[--r] = 0;
    return 0;
}

static int write_text(const char *path, const char *value) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t r = write(fd, value, strlen(value));
    close(fd);
    return r == (ssize_t)strlen(value) ? 0 : -1;
}

static int smbus_read_byte(int fd, unsigned char reg) {
    union i2c_smbus_data data;
    struct i2c_smbus_ioctl_data args = { I2C_SMBUS_READ, reg, I2C_SMBUS_BYTE_DATA, &data };
    if (ioctl(fd, I2C_SMBUS, &args) < 0) return -1;
    return data.byte;
}

/* legacy sysfs base of the chip with this label, or -1 */
static int sysfs_base(const char *label) {
    DIR *d = opendir("/sys/class/gpio");
    struct dirent *e;
    int base = -1;
    while (d && (e = readdir(d))) {
        char p[512], l[64], b[32];
        if (strncmp(e->d_name, "gpiochip", 8)) continue;
        snprintf(p, sizeof p, "/sys/class/gpio/%s/label", e->d_name);
        if (read_text(p, l, sizeof l) || strcmp(l, label)) continue;
        snprintf(p, sizeof p, "/sys/class/gpio/%s/base", e->d_name);
        if (!read_text(p, b, sizeof b)) base = atoi(b);
    }
    if (d) closedir(d);
    return base;
}

static void line_info(int fd, unsigned offset, struct gpioline_info *li) {
    memset(li, 0, sizeof *li);
    li->line_offset = offset;
    if (ioctl(fd, GPIO_GET_LINEINFO_IOCTL, li) < 0) li->name[0] = '?';
}

int main(int argc, char **argv) {
    const char *lab = getenv("IOTLAB"), *sim = getenv("IOTLAB_SIM_DEVICE"), *bus = getenv("IOTLAB_I2C_BUS");
    check(lab && !strcmp(lab, "1"), "IOTLAB=%s", lab ? lab : "(unset)");
    check(sim && !strncmp(sim, "/sys/devices/platform/gpio-sim.", 31), "IOTLAB_SIM_DEVICE=%s", sim ? sim : "(unset)");
    check(bus && *bus, "IOTLAB_I2C_BUS=%s", bus ? bus : "(unset)");

    /* Character devices: find both chips by label. */
    char chip_a[32] = "", chip_b[32] = "";
    DIR *d = opendir("/dev");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "gpiochip", 8)) continue;
        char path[300];
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        int fd = open(path, O_RDWR);
        if (fd < 0) { check(0, "open %s: %s", path, strerror(errno)); continue; }
        struct gpiochip_info ci;
        memset(&ci, 0, sizeof ci);
        int rc = ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &ci);
        check(rc == 0, "%s: GPIO_GET_CHIPINFO_IOCTL name=%s label=%s lines=%u", path, ci.name, ci.label, ci.lines);
        struct gpioline_info li;
        if (!strcmp(ci.label, "iotlab-a")) {
            snprintf(chip_a, sizeof chip_a, "%s", ci.name);
            static const char *names[] = { "lab-led", "lab-button", "lab-out2", "lab-in3", "", "", "", "" };
            for (unsigned i = 0; i < 8; i++) {
                line_info(fd, i, &li);
                if (strcmp(li.name, names[i])) check(0, "iotlab-a line %u is named '%s', expected '%s'", i, li.name, names[i]);
            }
            check(ci.lines == 8, "iotlab-a has %u lines, line names checked", ci.lines);
            line_info(fd, 7, &li);
            check(!strcmp(li.consumer, "lab-hog") && (li.flags & GPIOLINE_FLAG_IS_OUT), "iotlab-a line 7 hog consumer=%s flags=0x%x",
                  li.consumer, li.flags);
        } else if (!strcmp(ci.label, "pinctrl-bcm2711")) {
            snprintf(chip_b, sizeof chip_b, "%s", ci.name);
            int bad = 0;
            for (unsigned i = 0; i < ci.lines; i++) {
                char want[16];
                snprintf(want, sizeof want, "GPIO%u", i);
                line_info(fd, i, &li);
                if (strcmp(li.name, want)) bad++;
            }
            check(ci.lines == 58 && !bad, "pinctrl-bcm2711 has %u lines named GPIO0..GPIO%u (%d misnamed)", ci.lines, ci.lines - 1, bad);
        }
        close(fd);
    }
    if (d) closedir(d);
    check(chip_a[0] && chip_b[0], "chips by label: iotlab-a=/dev/%s pinctrl-bcm2711=/dev/%s", chip_a, chip_b);

    /* Simulated pull on iotlab-a line 3 (lab-in3) is what the exported sysfs line reads. */
    int base_a = sysfs_base("iotlab-a"), base_b = sysfs_base("pinctrl-bcm2711");
    check(base_a >= 0 && base_b >= 0, "sysfs bases: iotlab-a=%d pinctrl-bcm2711=%d", base_a, base_b);
    if (sim && chip_a[0] && base_a >= 0) {
        char num[16], value[256], pull[512], v[16] = "";
        snprintf(num, sizeof num, "%d", base_a + 3);
        check(write_text("/sys/class/gpio/export", num) == 0, "export gpio %s (iotlab-a line 3)", num);
        snprintf(value, sizeof value, "/sys/class/gpio/gpio%d/value", base_a + 3);
        snprintf(pull, sizeof pull, "%s/%s/sim_gpio3/pull", sim, chip_a);
        read_text(value, v, sizeof v);
        check(!strcmp(v, "0"), "lab-in3 reads %s with the default pull-down", v);
        check(write_text(pull, "pull-up") == 0, "write pull-up to %s", pull);
        read_text(value, v, sizeof v);
        check(!strcmp(v, "1"), "lab-in3 reads %s after pull-up", v);
        write_text(pull, "pull-down");
        read_text(value, v, sizeof v);
        check(!strcmp(v, "0"), "lab-in3 reads %s after pull-down", v);
        /* Drive lab-led (line 0) high through sysfs; the simulator's value shows it. */
        snprintf(num, sizeof num, "%d", base_a);
        write_text("/sys/class/gpio/export", num);
        snprintf(value, sizeof value, "/sys/class/gpio/gpio%d/direction", base_a);
        check(write_text(value, "high") == 0, "lab-led direction high");
        snprintf(value, sizeof value, "%s/%s/sim_gpio0/value", sim, chip_a);
        read_text(value, v, sizeof v);
        check(!strcmp(v, "1"), "simulator sees lab-led driven %s", v);
    }

    /* i2c-stub preload. */
    if (bus) {
        char path[64];
        snprintf(path, sizeof path, "/dev/i2c-%s", bus);
        int fd = open(path, O_RDWR);
        check(fd >= 0, "open %s", path);
        if (fd >= 0) {
            static const unsigned char regs76[] = { 0xD0, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D };
            static const unsigned char vals76[] = { 0x60, 0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC };
            ioctl(fd, I2C_SLAVE, 0x76);
            int bad = 0;
            for (unsigned i = 0; i < sizeof regs76; i++) if (smbus_read_byte(fd, regs76[i]) != vals76[i]) bad++;
            check(!bad, "0x76: chip id 0x%02x and calibration bytes (%d wrong)", smbus_read_byte(fd, 0xD0), bad);
            ioctl(fd, I2C_SLAVE, 0x50);
            unsigned word = 0;
            for (int r = 0; r < 4; r++) word = (word << 8) | (unsigned)(smbus_read_byte(fd, r) & 0xFF);
            check(word == 0xDEADBEEF, "0x50: regs 0..3 = %08X", word);
            close(fd);
        }
    }

    int code = failures ? 10 : 0;
    if (argc > 1) code = atoi(argv[1]);
    printf("labcheck: %d passed, %d failed; exiting %d\n", passes, failures, code);
    return code;
}
