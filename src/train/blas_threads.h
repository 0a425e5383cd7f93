// The BLAS's own thread pool (docs/TRAINING.md, "Performance").
//
// libtorch parallelises its kernels with OpenMP (torch::set_num_threads) and hands matrix
// multiplies to the system BLAS, libblas.so.3. OpenBLAS's pthread build starts a second pool, one
// thread per core, whose workers spin while idle: with libtorch's threads and another rank on the
// same cores, the two pools fight (measured: a `mini` training step 2.8x slower, a third of the
// time in the kernel). vlmscale runs one rank per core, so the BLAS gets one thread per call.
#ifndef VLMSCALE_TRAIN_BLAS_THREADS_H_
#define VLMSCALE_TRAIN_BLAS_THREADS_H_

namespace vlmscale::train {

// Sets OpenBLAS's thread count to `threads` (>= 1) unless the user chose one with the
// OPENBLAS_NUM_THREADS environment variable. Returns true if OpenBLAS is the loaded BLAS and was
// set; false otherwise (another BLAS, or the variable is set): then nothing changes.
bool LimitBlasThreads(int threads = 1);

}  // namespace vlmscale::train

#endif  // VLMSCALE_TRAIN_BLAS_THREADS_H_
