// readable-stream defers its own steps (maybeReadMore after every push, a write
// callback it got synchronously, 'close' after destroy) with process.nextTick from npm
// `process`, which it imports itself (`process/`): every bundler gives it that package's
// browser build, whose nextTick runs its queue from setTimeout(0): two timers per
// message read, and 4 ms apart once timers nest. Node runs nextTick callbacks before
// the next task, as a microtask does. That build is one module object (npm dedupes
// `process`: we depend on readable-stream's range), so setting its nextTick here
// reaches the page's readable-stream with no bundler configuration. Under Node,
// readable-stream uses the real process and this object goes unused.
import process from 'process/browser.js';

process.nextTick = (fn, ...args) => queueMicrotask(() => fn(...args));
