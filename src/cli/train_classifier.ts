// `deno task train-classifier`: train the FID-MNIST digit classifier on the MNIST train split
// and write its weights (by default over the shipped checkpoints/mnist-classifier.safetensors).
//
//   deno task train-classifier [--steps 800] [--batch 64] [--lr 1e-3] [--seed 0]
//                              [--out checkpoints/mnist-classifier.safetensors] [--backend auto]
import { parseArgs } from "node:util";
import { initBackend } from "../backend.ts";
import { loadMnist } from "../data/mnist.ts";
import { trainClassifier } from "../eval/train_classifier.ts";
import { saveClassifier } from "../eval/save_classifier.ts";
import { _duration, _progress } from "../_progress.ts";
import { _backendArg, _cliArgs, _intArg, _numArg, _run } from "./_args.ts";

const HELP = `Train the FID-MNIST digit classifier on the MNIST train split.

Options:
  --steps N        Adam steps                                                   [800]
  --batch N        batch size                                                    [64]
  --lr X           learning rate (halved at 50% and 75% of the steps)          [1e-3]
  --seed N         seed of the weights, batches and shifts                        [0]
  --out FILE       weights file             [checkpoints/mnist-classifier.safetensors]
  --backend NAME   auto, webgpu, wasm or cpu                                   [auto]
  --help           this text`;

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      steps: { type: "string", default: "800" },
      batch: { type: "string", default: "64" },
      lr: { type: "string", default: "1e-3" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "checkpoints/mnist-classifier.safetensors" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", default: false },
    },
  });
  if (a.help) return console.log(HELP);
  const steps = _intArg("steps", a.steps, 1), batch = _intArg("batch", a.batch, 1);
  const seed = _intArg("seed", a.seed, 0), lr = _numArg("lr", a.lr);
  const info = await initBackend(_backendArg(a.backend));
  const data = loadMnist({ split: "train" }), test = loadMnist({ split: "test" });
  console.log(
    `backend ${info.backend} · ${data.shape[0]} training digits, ${test.shape[0]} held out`,
  );
  const bar = _progress(steps, 0, true, 20);
  const t0 = performance.now();
  const { classifier, testAccuracy, losses } = await trainClassifier({
    data,
    test,
    steps,
    batch,
    lr,
    seed,
    onStep: (step, loss) => bar.update(step, loss),
  });
  bar.done();
  const seconds = (performance.now() - t0) / 1000;
  const tail = losses.slice(-50);
  const finalLoss = tail.reduce((x, y) => x + y, 0) / tail.length;
  await saveClassifier(a.out, classifier, {
    testAccuracy: String(testAccuracy),
    trainedOn: `mnist train split (${data.shape[0]} digits)`,
    testedOn: `mnist test split (${test.shape[0]} digits)`,
    command:
      `deno task train-classifier --steps ${steps} --batch ${batch} --lr ${lr} --seed ${seed}`,
    finalLoss: String(finalLoss),
    seconds: String(seconds),
  });
  classifier.dispose();
  console.log(
    `test accuracy ${(100 * testAccuracy!).toFixed(2)}% on ${test.shape[0]} held-out digits · ` +
      `final loss ${finalLoss.toFixed(4)} · ${_duration(seconds)} · wrote ${a.out}`,
  );
});
