#!/usr/bin/env bash
# The masking speed check for a lent GPU, as one prepared run of about six minutes on a fresh
# machine (Triton compiles each kernel variant once, 5 to 25 s each; its cache keeps them):
#   1. the speed table against the peers, with the targets checked (benchmarks/masking/peers.py);
#   2. where one MSCNMask call spends its time: host issue against device time (benchmarks/masking/profile.py);
#   3. the fused Triton kernels on the device against the float64 reference and the torch path, the
#      draw kernel against the torch draw, torch.compile, and masks made without a host
#      synchronization (tests/triton_cases.py, tests/test_cuda_sync.py);
#   4. the kernel's tile shapes, warps, register caps and programs per multiprocessor against the
#      memory floor, with an element mask and with MSCNMask's drawn mask, in float32 (each setting
#      compiles per call and dtype; benchmarks/masking/tune.py. benchmarks/masking/kernel_cost.py
#      counts the same settings' instructions on any machine).
# kornia is not on the GPU machines' image: carry its wheel (and kornia_rs) or its row says it is
# missing. Run from the repository root; results go to $OUT (default benchmarks/masking/results):
#   OUT=/tmp/out bash benchmarks/masking/device_check.sh
# DEVICE=cpu TRITON_INTERPRET=1 runs the same steps on a CPU, on tiny inputs (PEERS_ARGS and
# PROFILE_ARGS override them), to check the script itself in about ten minutes.
set -uo pipefail
device=${DEVICE:-cuda}
if [[ $device == cpu ]]; then
    out=${OUT:-$(mktemp -d)}  # (never over the committed results)
    PEERS_ARGS=${PEERS_ARGS:---batch 2 --size 48 --spec-batch 2 --spec-freq 32 --spec-time 64 --repeats 2 --warmup 1}
    PROFILE_ARGS=${PROFILE_ARGS:---batch 2 --size 48 --repeats 2 --warmup 1}
else
    out=${OUT:-benchmarks/masking/results}
fi
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-python3}
status=0
"$python" -m benchmarks.masking.peers --device "$device" --no-compile ${PEERS_ARGS:-} --out "$out/peers-$device.json" 2>&1 \
    | tee "$out/peers-$device.log" || status=1
"$python" -m benchmarks.masking.profile --device "$device" ${PROFILE_ARGS:-} --out "$out/profile-$device.json" 2>&1 \
    | tee "$out/profile-$device.log" || status=1
"$python" -m pytest -q -p no:cacheprovider tests/triton_cases.py tests/test_cuda_sync.py --device "$device" 2>&1 \
    | tee "$out/triton-$device.log" || status=1
if [[ $device == cuda* ]]; then
    "$python" -m benchmarks.masking.tune --device "$device" --dtypes float32 --out "$out/tune-$device.json" 2>&1 \
        | tee "$out/tune-$device.log" || status=1
fi
echo "results in $out"
exit $status
