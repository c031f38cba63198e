// Launches the system's Chromium (playwright-core) and Firefox ESR (puppeteer-core
// over WebDriver BiDi) once per test file, and opens harness pages in them.
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

function require_binary(path, apt_package) {
    if (!existsSync(path)) {
        throw new Error(`${path} not found: install it (apt-get install -y ${apt_package}) ` +
                        'or point the test at it with CHROMIUM_PATH / FIREFOX_PATH');
    }
}

export async function launch_chromium() {
    require_binary(CHROMIUM, 'chromium');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--ignore-certificate-errors']
    });
    return {
        // A new context is a new HTTP/2 connection to the server.
        async page(url, { harness = true } = {}) {
            const context = await browser.newContext({ ignoreHTTPSErrors: true });
            const page = await context.newPage();
            page.on('pageerror', err => console.error('page error:', err));
            await page.goto(url);
            return wrap(page, () => context.close(), harness);
        },
        close: () => browser.close()
    };
}

// Keeps Firefox off the network: only 127.0.0.1 is reachable here.
const FIREFOX_PREFS = {
    'services.settings.server': 'data:,#remote-settings-dummy/v1',
    'toolkit.telemetry.enabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.trr.mode': 5,
    'dom.push.enabled': false,
    'security.OCSP.enabled': 0,
    'network.prefetch-next': false,
    'network.dns.disablePrefetch': true,
    'network.http.http3.enable': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false
};

// puppeteer-core's launch options for headless Firefox over WebDriver BiDi
// (the bench uses them too).
export function firefox_launch_options() {
    return {
        browser: 'firefox',
        protocol: 'webDriverBiDi',
        executablePath: FIREFOX,
        headless: true,
        acceptInsecureCerts: true,
        networkEnabled: false,
        extraPrefsFirefox: FIREFOX_PREFS,
        env: { ...process.env, MOZ_REMOTE_SETTINGS_DEVTOOLS: '1' }
    };
}

export async function launch_firefox() {
    require_binary(FIREFOX, 'firefox-esr');
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch(firefox_launch_options());
    return {
        async page(url, { harness = true } = {}) {
            const context = await browser.createBrowserContext();
            const page = await context.newPage();
            await page.goto(url);
            return wrap(page, () => context.close(), harness);
        },
        close: () => browser.close()
    };
}

// The same small surface over both drivers: call(name, ...args) runs harness[name].
async function wrap(page, close, harness) {
    if (harness) {
        await page.waitForFunction(() => window.harness !== undefined);
    }
    return {
        page,
        call: (name, ...args) => page.evaluate(([n, a]) => window.harness[n](...a), [name, args]),
        close
    };
}

// WebKitGTK: MiniBrowser under Xvfb over plain WebDriver HTTP (see webkit.mjs).
export { launch_webkit, webkit_missing } from './webkit.mjs';
