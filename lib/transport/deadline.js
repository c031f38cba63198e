// @ts-check
'use strict';
// One timer at the earliest deadline a core's poll answers (ms on
// performance.now()'s clock): the adapters call `arm` after each call into
// the core, and the timer fires `due` once at that time.

class DeadlineTimer {
    /** @type {NodeJS.Timeout | null} */
    #timer = null;
    #at = Infinity;
    #due;

    /** @param {() => void} due */
    constructor(due) {
        this.#due = due;
    }

    /**
     * The core's next deadline now; null or undefined: none.
     * @param {number | null | undefined} at
     */
    arm(at) {
        if (at === null || at === undefined) {
            this.#clear();
            return;
        }
        if (this.#timer && at >= this.#at) {
            return;     // it fires earlier, and the core is asked again then
        }
        this.#clear();
        this.#at = at;
        this.#timer = setTimeout(() => {
            this.#timer = null;
            this.#at = Infinity;
            this.#due();
        }, Math.max(0, Math.ceil(at - performance.now()))).unref();
    }

    #clear() {
        if (this.#timer) {
            clearTimeout(this.#timer);
            this.#timer = null;
            this.#at = Infinity;
        }
    }
}

module.exports = { DeadlineTimer };
