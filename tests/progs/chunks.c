/* A process for the arena reader's tests and benchmark: THREADS threads (argv[1];
 * 0 = the main thread does the work, so only the main arena is used) each leave
 * FREE (argv[2]) free chunks that cannot coalesce: they allocate 2 x (FREE + 14)
 * blocks, alternating 40 and 150 bytes, touch them, and free every other one, so
 * each freed chunk sits between two live ones (7 of each size go to the thread's
 * tcache first, the 40-byte ones then to a fast bin, the 150-byte ones to the
 * unsorted bin). The threads stay alive. Once all are done, the main thread writes
 * glibc's malloc_info to stderr (unbuffered: nothing is allocated while it writes),
 * writes "ready" to stdout with write(2), and sleeps until killed. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t done;
static long free_per_thread;

static void churn(void) {
    long n = 2 * (free_per_thread + 14);
    void **blocks = malloc(n * sizeof *blocks);
    for (long i = 0; i < n; i++) {
        size_t size = (i / 2) % 2 ? 150 : 40;
        blocks[i] = malloc(size);
        memset(blocks[i], 1, size);
    }
    for (long i = 0; i < n; i += 2)
        free(blocks[i]);
}

static void *worker(void *arg) {
    (void)arg;
    churn();
    pthread_barrier_wait(&done);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 16;
    free_per_thread = argc > 2 ? atol(argv[2]) : 6250;
    if (threads == 0) {
        churn();
    } else {
        pthread_t t;
        pthread_barrier_init(&done, NULL, threads + 1);
        for (int i = 0; i < threads; i++)
            pthread_create(&t, NULL, worker, NULL);
        pthread_barrier_wait(&done);
    }
    malloc_info(0, stderr);
    if (write(1, "ready\n", 6) != 6)
        return 1;
    for (;;)
        pause();
}
