/**
 * A worker for tests/threads_test.ts that reports ready and then never serves
 * a job: the pool must notice, not wait forever.
 * @module
 */
/// <reference lib="deno.worker" />

self.onmessage = () => self.postMessage("ready");
