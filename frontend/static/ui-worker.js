// Runs one cog UI module (NAME.ui.wasm) for one open page, in a worker of
// its own, with the bridge and nothing else (docs/ui-modules.md).
//
// The dashboard (frontend/src/ui_module.rs) posts {type: "start", bytes,
// context, canAct} and then {type: "event", json, result}; this worker posts
// back {type: "view", json}, {type: "action", id, json}, {type: "idle",
// memory} after every call into the module, and {type: "error", message}.
// The dashboard terminates the worker when an answer is late or memory grows
// past its cap. A module never reaches the DOM, fetch or cookies: a worker
// has no DOM, the module's imports are checked against the allow-list below
// before it is instantiated, and the namespaces it is given have no
// prototype (so `bridge.toString` or `constructor` do not resolve).
"use strict";

// (module, name) -> [parameters, results]; all i32.
const ALLOWED = new Map([
  ["bridge\u0000emit_view", [2, 0]],
  ["bridge\u0000call_action", [2, 1]],
  ["bridge\u0000page_context", [2, 1]],
]);
const ABI_VERSION = 1;
const MAX_IN_FLIGHT = 4;
// Views one call into the module may emit (MAX_UI_VIEWS_PER_CALL in
// api-types/src/pages.rs): each is parsed, checked and drawn on the page's
// thread, so a module emitting in a loop would freeze the tab.
const MAX_VIEWS_PER_CALL = 16;
// Bytes of one view's JSON (MAX_UI_VIEW_BYTES): parsed on the page's thread.
const MAX_VIEW_BYTES = 1 << 20;

let exports = null;
let context = new Uint8Array(0);
let canAct = false;
let inFlight = 0;
let nextRequest = 1;
let viewsThisCall = 0;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function memory() {
  // Re-read every time: growing the memory detaches the old buffer.
  return exports.memory.buffer;
}

function region(ptr, len) {
  ptr >>>= 0;
  len >>>= 0;
  if (ptr + len > memory().byteLength) {
    throw new Error("the module pointed outside its memory");
  }
  return [ptr, len];
}

function readText(ptr, len) {
  const [at, size] = region(ptr, len);
  return decoder.decode(new Uint8Array(memory(), at, size).slice());
}

function namespace(functions) {
  const space = Object.create(null);
  for (const [name, fn] of Object.entries(functions)) space[name] = fn;
  return Object.freeze(space);
}

function checkImports(module) {
  for (const wanted of WebAssembly.Module.imports(module)) {
    const key = wanted.module + "\u0000" + wanted.name;
    if (wanted.kind !== "function" || !ALLOWED.has(key)) {
      throw new Error(
        `the module imports ${wanted.module}.${wanted.name} (${wanted.kind}); ` +
          "a UI module may import only bridge.emit_view, bridge.call_action and bridge.page_context",
      );
    }
  }
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const needed of ["memory", "ui_alloc", "ui_abi_version", "ui_init", "ui_event"]) {
    if (!names.has(needed)) throw new Error(`the module does not export ${needed}`);
  }
}

const bridge = namespace({
  emit_view(ptr, len) {
    viewsThisCall += 1;
    if (viewsThisCall > MAX_VIEWS_PER_CALL) {
      throw new Error(`the module emitted more than ${MAX_VIEWS_PER_CALL} views in one call`);
    }
    if (len >>> 0 > MAX_VIEW_BYTES) {
      throw new Error(`the module emitted a view of ${len >>> 0} bytes; at most ${MAX_VIEW_BYTES}`);
    }
    postMessage({ type: "view", json: readText(ptr, len) });
  },
  call_action(ptr, len) {
    const json = readText(ptr, len);
    if (!canAct) return -3;
    if (inFlight >= MAX_IN_FLIGHT) return -2;
    inFlight += 1;
    const id = nextRequest++;
    postMessage({ type: "action", id, json });
    return id;
  },
  page_context(ptr, cap) {
    if (context.length <= cap >>> 0) {
      const [at] = region(ptr, context.length);
      new Uint8Array(memory(), at, context.length).set(context);
    }
    return context.length;
  },
});

function idle() {
  postMessage({ type: "idle", memory: memory().byteLength });
}

async function start(message) {
  const module = await WebAssembly.compile(message.bytes);
  checkImports(module);
  context = encoder.encode(JSON.stringify(message.context));
  canAct = message.canAct === true;
  const imports = Object.create(null);
  imports.bridge = bridge;
  const instance = await WebAssembly.instantiate(module, Object.freeze(imports));
  exports = instance.exports;
  if (!(exports.memory instanceof WebAssembly.Memory)) {
    throw new Error("the module's memory export is not a memory");
  }
  const version = exports.ui_abi_version();
  if (version !== ABI_VERSION) {
    throw new Error(`the module speaks UI ABI ${version}; this dashboard speaks ${ABI_VERSION}`);
  }
  viewsThisCall = 0;
  exports.ui_init();
  idle();
}

function deliver(message) {
  if (message.result) inFlight = Math.max(0, inFlight - 1);
  const bytes = encoder.encode(message.json);
  const ptr = exports.ui_alloc(bytes.length);
  const [at, size] = region(ptr, bytes.length);
  new Uint8Array(memory(), at, size).set(bytes);
  viewsThisCall = 0;
  exports.ui_event(ptr, bytes.length);
  idle();
}

self.onmessage = async (event) => {
  const message = event.data;
  try {
    if (message.type === "start") await start(message);
    else if (message.type === "event" && exports) deliver(message);
  } catch (error) {
    postMessage({ type: "error", message: String((error && error.message) || error) });
  }
};
