/* A process for `arena-sweep inspect` tests: THREADS threads (argv[1], default 4)
 * start together, each allocates and touches BLOCKS blocks of 64 KiB and frees all but
 * every 8th, so each thread's arena keeps resident memory with holes. The threads stay
 * alive. Once all have allocated, the program prints the number of non-main arena
 * heaps glibc's malloc_info reports ("heaps N", or "heaps -" without glibc), then
 * "ready", and sleeps until killed. Built by the tests with gcc, gcc -static or
 * musl-gcc. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define BLOCKS 256
#define BLOCK (64 * 1024)

static pthread_barrier_t start, allocated;

static void *worker(void *arg) {
    (void)arg;
    static __thread void *blocks[BLOCKS];
    pthread_barrier_wait(&start);
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(BLOCK);
        memset(blocks[i], 1, BLOCK);
    }
    for (int i = 0; i < BLOCKS; i++)
        if (i % 8 != 0)
            free(blocks[i]);
    pthread_barrier_wait(&allocated);
    for (;;)
        pause();
    return NULL;
}

/* Sum of <aspace type="subheaps" size="N"/> over the arenas in malloc_info. */
static void print_heaps(void) {
#ifdef __GLIBC__
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    malloc_info(0, f);
    fclose(f);
    long heaps = 0;
    const char *key = "<aspace type=\"subheaps\" size=\"";
    for (char *p = strstr(buf, key); p; p = strstr(p + 1, key))
        heaps += strtol(p + strlen(key), NULL, 10);
    printf("heaps %ld\n", heaps);
    free(buf);
#else
    printf("heaps -\n");
#endif
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 4;
    pthread_t *t = calloc(n, sizeof *t);
    pthread_barrier_init(&start, NULL, n);
    pthread_barrier_init(&allocated, NULL, n + 1);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    pthread_barrier_wait(&allocated);
    print_heaps();
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
