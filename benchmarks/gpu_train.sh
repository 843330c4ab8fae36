#!/usr/bin/env bash
# One prepared run for a lent GPU machine (torch, no PyAV, no network), from the repository root:
#   (a) versions: nvidia-smi, python, torch, CUDA, cuDNN, GPU
#   (b) fine-tune the default model (fastrealvsr_lite_mix) on a training pack for N minutes
#       (configs/default_online_gpu.yaml, data kind pack, bf16 autocast), under a hard `timeout`
#   (c) every shipped model (src/freqvsr/weights/*.safetensors, and the run's final checkpoint):
#       frames/s at fp32, tf32, bf16 and fp16 autocast on 180x320 LR clips, and the max abs
#       difference of each precision against CPU fp32 on a small clip
# Everything goes under $OUT (default ./gpu_out): env.txt, train.log, train.json, run/, bench.json,
# bench.txt, summary.txt. Also runs on a CPU-only machine (device auto -> cpu; tiny sizes there).
#
#   benchmarks/gpu_train.sh [--pack DIR] [--minutes N] [--total-seconds S] [--iterations N] [--batch N]
#                           [--skip-train] [--skip-bench] [-- KEY=VALUE ...]
# --minutes (default 5.5, decimals allowed): train.max_seconds of the run. --total-seconds (default
# 570, under the device tool's 600 s per call): the whole script's budget; the training's hard
# timeout is cut so that the benchmark keeps 150 s of it.
# Env equivalents: PACK, MINUTES, TOTAL_SECONDS, ITERATIONS, BATCH, OUT, WEIGHTS, BENCH_FRAMES, BENCH_SECONDS.
# Trailing KEY=VALUE arguments are passed to `freqvsr train` as config overrides.
# Make the pack first (here, with PyAV): python benchmarks/make_train_pack.py STORE gpu_pack --mib 40
# Device call (gpu_pack is git-ignored, so it must be carried): run(command="benchmarks/gpu_train.sh",
# carry=["gpu_pack"], timeout_s=600)   -- docs/training.md
set -u -o pipefail

PACK=${PACK:-gpu_pack}
MINUTES=${MINUTES:-5.5}
TOTAL_SECONDS=${TOTAL_SECONDS:-570}
ITERATIONS=${ITERATIONS:-}
BATCH=${BATCH:-}
WEIGHTS=${WEIGHTS:-src/freqvsr/weights/fastrealvsr_lite_mix.safetensors}
OUT=${OUT:-./gpu_out}
SKIP_TRAIN=0
SKIP_BENCH=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) PACK=$2; shift 2 ;;
    --minutes) MINUTES=$2; shift 2 ;;
    --total-seconds) TOTAL_SECONDS=$2; shift 2 ;;
    --iterations) ITERATIONS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --skip-train) SKIP_TRAIN=1; shift ;;
    --skip-bench) SKIP_BENCH=1; shift ;;
    --) shift; EXTRA+=("$@"); break ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *=*) EXTRA+=("$1"); shift ;;
    *) echo "gpu_train.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.." || exit 1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python}
T_START=$(date +%s)
say() { echo "[gpu_train $(($(date +%s) - T_START))s] $*" | tee -a "$OUT/summary.txt"; }

# ---- (a) versions ------------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi; else echo "nvidia-smi: not found"; fi
  "$PY" - <<'EOF'
import importlib, platform, sys
import torch
print("python", platform.python_version(), "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| cuDNN", torch.backends.cudnn.version(), "| cuda available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("GPU", p.name, f"{p.total_memory / 2**30:.0f} GiB", f"sm_{p.major}{p.minor}", "bf16", torch.cuda.is_bf16_supported())
for m in ("numpy", "safetensors", "yaml", "tqdm", "PIL", "scipy", "av"):
    try:
        print(m, getattr(importlib.import_module(m), "__version__", "?"))
    except ImportError:
        print(m, "absent")
EOF
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
say "device: $([ "$CUDA" = 1 ] && echo cuda || echo 'cpu (no CUDA: CPU settings, tiny benchmark)')"

# ---- (b) training ------------------------------------------------------------------------------
TRAIN_RC=skipped
RUN="$OUT/run"
if [ "$SKIP_TRAIN" = 0 ]; then
  if [ ! -f "$PACK/pack.json" ]; then
    say "no training pack at $PACK (make one: python benchmarks/make_train_pack.py STORE $PACK --mib 40); training skipped"
    TRAIN_RC=no-pack
  else
    [ -e "$RUN" ] && RUN="$OUT/run-$(date +%s)"
    SECS=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 }')
    HARD=$(( SECS + 120 ))  # startup, workers, final validation and checkpoint
    LEFT=$(( TOTAL_SECONDS - 150 - ($(date +%s) - T_START) ))  # the benchmark keeps 150 s
    [ "$HARD" -gt "$LEFT" ] && HARD=$LEFT
    [ "$HARD" -lt 30 ] && HARD=30
    ARGS=("data.root=$PACK" "model.weights=$WEIGHTS" "train.max_seconds=$SECS")
    [ -n "$ITERATIONS" ] && ARGS+=("train.iterations=$ITERATIONS")
    [ -n "$BATCH" ] && ARGS+=("train.batch_size=$BATCH")
    if [ "$CUDA" != 1 ]; then ARGS+=("train.amp=none" "data.num_workers=0"); fi
    ARGS+=("${EXTRA[@]}")
    say "train: ${ARGS[*]} (hard timeout ${HARD}s)"
    timeout -k 15 "$HARD" "$PY" -m freqvsr train configs/default_online_gpu.yaml "${ARGS[@]}" \
      --out "$RUN" --json "$OUT/train.json" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | awk 'NR % 20 == 1 || /Error|error|Traceback|iterations in|^ /' \
      | tee "$OUT/train.log"
    TRAIN_RC=${PIPESTATUS[0]}
    say "train exit status $TRAIN_RC$([ "$TRAIN_RC" = 124 ] && echo ' (hard timeout)')"
    if [ -f "$RUN/metrics.jsonl" ]; then
      "$PY" - "$RUN/metrics.jsonl" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
tr = [r for r in recs if r.get("kind") == "train"]
if tr:
    print(f"train: {tr[-1]['iter']} iterations logged; loss first {tr[0]['loss']:.4f} last {tr[-1]['loss']:.4f}; "
          f"data_wait last {tr[-1].get('data_wait', 0):.1%}")
for r in recs:
    if r.get("kind") in ("val", "stopped", "done"):
        print(r.get("kind"), {k: v for k, v in r.items() if k != "kind"})
EOF
    fi
  fi
fi

# ---- (c) precision and speed of every shipped model ------------------------------------------------
BENCH_RC=skipped
if [ "$SKIP_BENCH" = 0 ]; then
  FINAL=""
  [ -f "$RUN/final.safetensors" ] && FINAL="$RUN/final.safetensors"
  BT=$(( TOTAL_SECONDS - 10 - ($(date +%s) - T_START) ))
  [ "$BT" -lt 60 ] && BT=60
  say "benchmark (timeout ${BT}s)"
  timeout -k 10 "$BT" "$PY" - "$OUT" "$FINAL" <<'EOF' 2>&1 | tee "$OUT/bench.txt"
import glob, json, os, sys, time
import torch
from freqvsr.models import load_checkpoint
from freqvsr.train.procedural import moving_clip

out, final = sys.argv[1], sys.argv[2]
cuda = torch.cuda.is_available()
dev = torch.device("cuda" if cuda else "cpu")
# GPU: 10-frame 180x320 LR clips (REDS size). CPU: a tiny stand-in so the script also runs anywhere.
T = int(os.environ.get("BENCH_FRAMES", 10 if cuda else 2))
H, W = (180, 320) if cuda else (45, 80)
budget = float(os.environ.get("BENCH_SECONDS", 3 if cuda else 0.5))  # timed seconds per model and precision
modes = {"fp32": (None, False), "tf32": (None, True), "bf16": (torch.bfloat16, False), "fp16": (torch.float16, False)}
if not cuda:
    modes = {k: modes[k] for k in ("fp32", "bf16")}
paths = sorted(glob.glob("src/freqvsr/weights/*.safetensors")) + ([final] if final else [])
g = torch.Generator().manual_seed(0)
speed_clip = moving_clip(g, T, H, W)[None]
diff_clip = moving_clip(g, 5, 64, 64)[None]  # the small clip: CPU fp32 reference vs each precision

def set_tf32(on):
    try:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on
    except Exception as exc:  # newer torch may move these flags; say so and go on
        print(f"set_tf32({on}): {type(exc).__name__}: {exc}", file=sys.stderr)

def run(model, x, dtype):
    ctx = torch.autocast(dev.type, dtype=dtype) if dtype is not None else torch.autocast(dev.type, enabled=False)
    with torch.inference_mode(), ctx:
        return model(x).float()

rows = []
for path in paths:
    name = "run:final" if path == final else os.path.basename(path).removesuffix(".safetensors")
    ref_model = load_checkpoint(path).eval()
    ref = run(ref_model, diff_clip, None).clamp(0, 1)
    model = load_checkpoint(path, map_location=dev).eval()
    for mode, (dtype, tf32) in modes.items():
        row = {"model": name, "arch": model.checkpoint_header.get("arch"), "precision": mode, "device": dev.type,
               "lr_size": [H, W], "frames": T}
        try:
            set_tf32(tf32) if cuda else None
            y = run(model, diff_clip.to(dev), dtype).clamp(0, 1).cpu()
            d = (y - ref).abs()
            row.update(max_abs_diff=float(d.max()), mean_abs_diff=float(d.mean()),
                       max_diff_8bit=int(((y * 255).round() - (ref * 255).round()).abs().max()))
            x = speed_clip.to(dev)
            run(model, x, dtype)  # warm-up (cuDNN autotune, allocator)
            if cuda:
                torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
            n, t0 = 0, time.perf_counter()
            while n == 0 or time.perf_counter() - t0 < budget:
                run(model, x, dtype)
                if cuda:
                    torch.cuda.synchronize()
                n += 1
            dt = time.perf_counter() - t0
            row.update(fps=T * n / dt, passes=n, seconds=round(dt, 3))
            if cuda:
                row["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        except Exception as exc:  # report and go on: one failing precision must not lose the others
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
        print(json.dumps(row), flush=True)
set_tf32(False) if cuda else None
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "speed_clip": f"1 x {T} frames x {H}x{W} LR, batch 1, inference_mode, after one warm-up pass",
        "diff_clip": "1 x 5 frames x 64x64 LR (freqvsr.train.procedural.moving_clip, seed 0), outputs clamped to [0,1]; "
                     "reference: the same checkpoint on CPU in fp32",
        "tf32": "fp32 rows with TF32 off (cuDNN and matmul), tf32 rows with it on", "rows": rows}
with open(os.path.join(out, "bench.json"), "w") as f:
    json.dump(info, f, indent=1)
print(f"\n{'model':28} {'prec':5} {'fps':>8} {'max|d|':>9} {'mean|d|':>9} {'8bit':>4} {'GiB':>5}")
for r in rows:
    if "error" in r:
        print(f"{r['model']:28} {r['precision']:5} ERROR {r['error']}")
    else:
        print(f"{r['model']:28} {r['precision']:5} {r['fps']:8.1f} {r['max_abs_diff']:9.2e} {r['mean_abs_diff']:9.2e} "
              f"{r['max_diff_8bit']:4d} {r.get('peak_mem_gib', 0):5.2f}")
EOF
  BENCH_RC=${PIPESTATUS[0]}
  say "benchmark exit status $BENCH_RC"
fi
say "done: train $TRAIN_RC, benchmark $BENCH_RC; files in $OUT"
[ "$BENCH_RC" = 0 ] || [ "$BENCH_RC" = skipped ] || exit 1
case "$TRAIN_RC" in 0|skipped) exit 0 ;; *) exit 1 ;; esac
