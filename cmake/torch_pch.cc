// The one source of vlmscale_torch_pch, the target that precompiles <torch/torch.h> for every
// libtorch target (CMakeLists.txt, VLMSCALE_TORCH_PCH). It needs no code of its own.
