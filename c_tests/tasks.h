/* The threads of the test process, for the tests of the library's helper
 * threads (test_dlclose, test_fork, test_thread_count). */
#ifndef EZALLOC_TASKS_H
#define EZALLOC_TASKS_H

#include <dirent.h>
#include <time.h>

/* The threads of this process (entries of /proc/self/task). */
static int tasks(void)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/task");

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The threads of this process once it has `want`, waiting up to 1 s: a
 * thread that pthread_join() has joined may still be listed for a moment,
 * while the kernel finishes its exit. */
static int tasks_settled(int want)
{
    int k;
    for (k = 0; k < 1000 && tasks() != want; k++) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    return tasks();
}

#endif
