#!/usr/bin/env bash
# Installs every Debian package vlmscale needs. The single list of system packages.
# Idempotent: packages already installed are skipped; apt-get update runs only when something is
# missing. Safe to run on every build (scripts/test.sh and scripts/quickstart.sh call it).
set -euo pipefail

PACKAGES=(
  # Toolchain.
  build-essential cmake pkg-config git ca-certificates
  ccache                          # shares objects between the two build variants in test.sh
  # Core C++ dependencies (found by CMake's find_package).
  libtorch-dev                    # libtorch 1.13, CPU build
  libopenblas0-pthread            # fast BLAS for libtorch (see docs/BENCHMARKS.md)
  libjemalloc2                    # allocator that keeps tensor buffers mapped (docs/BENCHMARKS.md)
  openmpi-bin libopenmpi-dev      # MPI driver
  libhdf5-dev hdf5-tools          # results store (h5dump for inspection)
  libboost-program-options-dev    # CLI and config files
  libgtest-dev libgmock-dev       # unit tests
  nlohmann-json3-dev              # JSON reports, metrics.json, export
  libceres-dev                    # scaling-law fitter
  # Analysis, plots, comparison benchmarks.
  python3 python3-numpy python3-matplotlib python3-h5py python3-scipy python3-torch
  # SLURM, started on localhost by the tests.
  slurm-wlm munge
  # Headless browser for the report test.
  chromium
  # Fuzzing and sanitizers.
  clang libclang-rt-14-dev
  # Misc tools used by tests and benchmarks.
  procps psmisc util-linux
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
