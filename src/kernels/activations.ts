/**
 * Typed wrappers of `kernels/activations.ts`: element-wise tanh, sigmoid and
 * relu. Backward passes read the forward output `y` and write `dx` (an
 * activation gradient has one producer; only parameter gradients accumulate).
 *
 * @example
 * ```ts
 * import { arena } from "./arena.ts";
 * import { activation_forward } from "./activations.ts";
 * const x = arena.f32([4]).set([-1, 0, 1, 2]);
 * const y = arena.f32([4]);
 * activation_forward("relu", y, x); // y = [0, 0, 1, 2]
 * ```
 * @module
 */
import * as k from "bnlab-kernels/activations.wasm";
import type { Tensor } from "./arena.ts";
import { expectSameShape } from "./shapes.ts";
import { dispatch } from "./threads.ts";

/** Rough cost of one activation, in flops, for deciding whether to use threads. */
const ACTIVATION_WORK_PER_ELEMENT = 30;

/** The activations a hidden layer can use. */
export type Activation = "tanh" | "sigmoid" | "relu";

/** Every {@link Activation}, for flag validation. */
export const ACTIVATIONS: readonly Activation[] = ["tanh", "sigmoid", "relu"];

/** y = tanh(x). */
export function tanh_forward(y: Tensor, x: Tensor): void {
  expectSameShape("tanh_forward y", y, x);
  dispatch(ACTIVATION_WORK_PER_ELEMENT * x.size, "tanh_forward", x.size, 4, -1, y.ptr, x.ptr);
}

/** dx = dy·(1 − y²). */
export function tanh_backward(dx: Tensor, dy: Tensor, y: Tensor): void {
  expectSameShape("tanh_backward dx", dx, y);
  expectSameShape("tanh_backward dy", dy, y);
  k.tanh_backward(dx.ptr, dy.ptr, y.ptr, y.size);
}

/** y = 1/(1 + e^(−x)). */
export function sigmoid_forward(y: Tensor, x: Tensor): void {
  expectSameShape("sigmoid_forward y", y, x);
  dispatch(ACTIVATION_WORK_PER_ELEMENT * x.size, "sigmoid_forward", x.size, 4, -1, y.ptr, x.ptr);
}

/** dx = dy·y·(1 − y). */
function sigmoid_backward(dx: Tensor, dy: Tensor, y: Tensor): void {
  expectSameShape("sigmoid_backward dx", dx, y);
  expectSameShape("sigmoid_backward dy", dy, y);
  k.sigmoid_backward(dx.ptr, dy.ptr, y.ptr, y.size);
}

/** y = max(x, 0). */
export function relu_forward(y: Tensor, x: Tensor): void {
  expectSameShape("relu_forward y", y, x);
  dispatch(ACTIVATION_WORK_PER_ELEMENT * x.size, "relu_forward", x.size, 4, -1, y.ptr, x.ptr);
}

/** dx = dy where y > 0, else 0 (the gradient at 0 is 0, as in PyTorch). */
function relu_backward(dx: Tensor, dy: Tensor, y: Tensor): void {
  expectSameShape("relu_backward dx", dx, y);
  expectSameShape("relu_backward dy", dy, y);
  k.relu_backward(dx.ptr, dy.ptr, y.ptr, y.size);
}

const FORWARD = { tanh: tanh_forward, sigmoid: sigmoid_forward, relu: relu_forward };
const BACKWARD = { tanh: tanh_backward, sigmoid: sigmoid_backward, relu: relu_backward };

/** y = act(x) for the named activation. */
export function activation_forward(act: Activation, y: Tensor, x: Tensor): void {
  FORWARD[act](y, x);
}

/** dx = dy·act'(x), computed from the forward output y. */
export function activation_backward(act: Activation, dx: Tensor, dy: Tensor, y: Tensor): void {
  BACKWARD[act](dx, dy, y);
}
