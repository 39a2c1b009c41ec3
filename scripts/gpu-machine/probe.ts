// The adapter, its tuning and limits, as convgpu sees them.
import { Engine } from '../../src/runtime/engine.js';
const e = await Engine.create();
console.log(e.describe());
console.log(JSON.stringify(e.adapterInfo));
console.log(JSON.stringify(e.tuning));
const l = e.limits;
console.log(JSON.stringify({ storage: l.maxComputeWorkgroupStorageSize, inv: l.maxComputeInvocationsPerWorkgroup, buf: l.maxStorageBufferBindingSize, ts: e.hasTimestamps }));
e.destroy();
