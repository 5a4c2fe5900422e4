import { ADAM_DEFAULTS } from "./src/adam.ts";
import { Net } from "./src/model.ts";
import { Random } from "./src/random.ts";
import { DEFAULTS, specFor } from "./src/train.ts";
const net = new Net(specFor("torch", DEFAULTS), 64);
net.initialize(new Random(0, "init"));
const x = net.input(64).f32, y = net.target(64).f32;
for (let i = 0; i < 64; i++) {
  x[i] = i / 10 - 3;
  y[i] = x[i] * x[i];
}
const adam = { ...ADAM_DEFAULTS, lr: 0.02 };
for (let i = 0; i < 20000; i++) net.trainStep(64, adam);
const t0 = performance.now();
for (let i = 0; i < 100000; i++) net.trainStep(64, adam);
console.log(((performance.now() - t0) / 100).toFixed(2), "us/step");
