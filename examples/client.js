// Echoes keypresses through the server, using the prebuilt client (no bundler).
import make from '/dist/client.mjs';

const status = document.getElementById('status');
const echo = document.getElementById('echo');

try {
    const duplex = await make(new URL('/example', location.href).href);
    status.textContent = `Connected (duplex ${duplex.id})`;
    document.addEventListener('keypress', ev => duplex.write(ev.key));
    duplex.on('data', data => echo.append(data.toString()));
    duplex.on('end', () => { status.textContent = 'Server ended'; });
    duplex.on('error', err => { status.textContent = `Error: ${err.message}`; });
} catch (err) {
    status.textContent = `Error: ${err.message}`;
}
