/* The floor for sampling: the least any sampler of /proc/net/dev can do at a given interval.
 * One thread wakes at absolute times start + k * interval and each time opens the file, reads
 * it to the end and closes it: no parsing, no allocation, no other thread, no HTTP. `make bench`
 * (tests/bench/run.py) builds it with gcc and runs it beside ifstatsd, on the same file at the
 * same interval, to compare their CPU.
 *
 *     floor_sampler INTERVAL_MS [PATH]        PATH defaults to /proc/net/dev
 *
 * It runs until a signal ends it (SIGTERM's default action is the way to stop it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Static, so that no wake allocates; 256 KiB holds /proc/net/dev of about 2000 interfaces. */
static char buffer[256 * 1024];
/* The bytes read, summed: a volatile the compiler must write, so the reads' results are used. */
static volatile unsigned long bytes_read_total;

int main(int argc, char **argv)
{
    long interval_ms = argc >= 2 ? strtol(argv[1], NULL, 10) : 0;
    const char *path = argc >= 3 ? argv[2] : "/proc/net/dev";
    if (argc > 3 || interval_ms <= 0) {
        fprintf(stderr, "usage: %s INTERVAL_MS [PATH]\n", argv[0]);
        return 2;
    }

    struct timespec wake;
    clock_gettime(CLOCK_MONOTONIC, &wake);
    for (;;) {
        /* The next wake is the previous one plus the interval, not now plus the interval: the
         * work of a wake never delays the next, and a late wake is followed by one on time. */
        wake.tv_nsec += (interval_ms % 1000) * 1000000L;
        wake.tv_sec += interval_ms / 1000 + wake.tv_nsec / 1000000000L;
        wake.tv_nsec %= 1000000000L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR)
            ;

        /* Opened anew every time, as ifstatsd does: procfs makes the text at each read. */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        ssize_t n;
        while ((n = read(fd, buffer, sizeof buffer)) > 0)
            bytes_read_total += (unsigned long)n;
        if (n < 0) {
            perror(path);
            return 1;
        }
        close(fd);
    }
}
