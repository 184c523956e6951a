// Times ONNX Runtime (the npm package onnxruntime-node, its bundled x64 CPU library) on an
// ONNX model, for bench/artifact_vs_ort.py. Node is only the caller: each run is one
// session.run on a preallocated input tensor.
//
//   node ort_bench.js --ort DIR --model M.onnx --batch N --threads T --startup
//       create the session + first run (JSON)
//   node ort_bench.js --ort DIR --model M.onnx --batch N --threads T --iters I [--input F32 --output F32]
//       a warm-up run, then I timed runs (JSON list of ms)
// DIR is the folder whose node_modules holds onnxruntime-node.
const path = require("path");
const fs = require("fs");

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--startup") args.startup = true;
  else args[a.replace(/^--/, "")] = process.argv[++i];
}
const ort = require(path.join(path.resolve(args.ort), "node_modules", "onnxruntime-node"));
const batch = parseInt(args.batch, 10);
const threads = parseInt(args.threads || "1", 10);
const iters = parseInt(args.iters || "20", 10);

(async () => {
  const shape = [batch, 3, 32, 32];
  const n = shape.reduce((a, b) => a * b, 1);
  let data = new Float32Array(n);
  if (args.input) {
    const buf = fs.readFileSync(args.input);
    data = new Float32Array(buf.buffer, buf.byteOffset, n).slice();
  } else {
    let s = 12345n;
    for (let i = 0; i < n; i++) {
      s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      data[i] = Number(s >> 40n) / 16777216;
    }
  }
  const opts = {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
  };
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(args.model, opts);
  const t1 = process.hrtime.bigint();
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, shape) };
  let out = await session.run(feeds);
  const t2 = process.hrtime.bigint();
  const ms = (a, b) => Number(b - a) / 1e6;
  if (args.startup) {
    console.log(JSON.stringify({ create_ms: ms(t0, t1), first_run_ms: ms(t1, t2),
                                 startup_ms: ms(t0, t2), version: ort.env.versions ? ort.env.versions.common : "" }));
    return;
  }
  if (args.output) {
    const y = out[session.outputNames[0]].data;
    fs.writeFileSync(args.output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  }
  const lat = [];
  for (let r = 0; r < iters; r++) {
    const a = process.hrtime.bigint();
    out = await session.run(feeds);
    lat.push(ms(a, process.hrtime.bigint()));
  }
  console.log(JSON.stringify({ latency_ms: lat }));
})().catch((e) => {
  console.error("ort_bench: " + e.message);
  process.exit(1);
});
