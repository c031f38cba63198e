// One browser and the test servers per test file, shared by its cases.
import { before, after } from 'node:test';
import { start_server, original_server_class } from './server.mjs';

// launch: launch_chromium or launch_firefox; with_original also starts a 6.0.3 server.
export function setup(launch, { with_original = false } = {}) {
    const started = {};
    before(async () => {
        [started.browser, started.ours, started.original] = await Promise.all([
            launch(),
            start_server(),
            with_original ? start_server({ Server: await original_server_class() }) : undefined
        ]);
    });
    after(async () => {
        await started.browser?.close();
        await started.ours?.close();
        await started.original?.close();
    });
    return {
        browser: () => started.browser,
        ours: () => started.ours,
        original: () => started.original
    };
}
