#include <dnnl.h>

/* oneDNN as Debian builds it runs on GNU OpenMP; its thread count is the calling thread's
   OpenMP `nthreads-var`, which only these libgomp calls change. */
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
