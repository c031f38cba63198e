// CPU time of a process and every process it started, read from /proc (Linux);
// for a browser, by process type: where the browser's share of an echo goes. Chromium's types
// are its own (renderer, network service, browser process, ...); Firefox's are
// mapped onto them: a content process ('tab') is a renderer, the socket process
// 'network', the parent process 'browser' (it does Firefox's networking too).
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10;     // /proc/<pid>/stat counts in clock ticks (USER_HZ, 100 on Linux)

function read_processes() {
    const processes = [];
    for (const pid of readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
        try {
            // Fields after the parenthesised name: state ppid ... utime(12) stime(13).
            const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
            // Chromium rewrites its children's titles: their arguments are joined by spaces.
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
            processes.push({
                pid: Number(pid),
                ppid: Number(fields[1]),
                cpu_ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS,
                cmdline
            });
        } catch {
            // The process ended between listing and reading.
        }
    }
    return processes;
}

function firefox_type(cmdline) {
    const kind = cmdline.filter(Boolean).at(-1);
    return { tab: 'renderer', socket: 'network' }[kind] || kind;
}

function process_type(cmdline) {
    if (cmdline.includes('-contentproc')) {
        return firefox_type(cmdline);
    }
    const flag = name => cmdline.find(arg => arg.startsWith(`--${name}=`))?.split('=')[1];
    const type = flag('type');
    if (!type) {
        return 'browser';
    }
    if (type === 'utility') {
        return (flag('utility-sub-type') || 'utility').includes('NetworkService') ? 'network' : 'utility';
    }
    return type === 'gpu-process' ? 'gpu' : type;
}

// A process and every process it started (children of the tree, until none is
// left: Chromium's zygotes start renderers, nginx's master its workers), each
// { pid, ppid, cpu_ms, cmdline }. The root is known by a flag only it was given
// (a string) or by its pid (a number).
export function process_tree(root_of) {
    const processes = read_processes();
    const root = processes.find(p => typeof root_of === 'number' ? p.pid === root_of : p.cmdline.includes(root_of));
    const tree = new Set(root ? [root.pid] : []);
    for (let grew = true; grew;) {
        grew = false;
        for (const p of processes) {
            if (!tree.has(p.pid) && tree.has(p.ppid)) {
                tree.add(p.pid);
                grew = true;
            }
        }
    }
    return processes.filter(p => tree.has(p.pid));
}

// The reader of a browser (`root_of` as for process_tree) returns a sample;
// cpu_between(before, after) gives ms by process type, counting only processes
// alive at `after` (one that exited meanwhile is not counted).
export function browser_cpu_reader(root_of) {
    return () => new Map(process_tree(root_of)
        .map(p => [p.pid, { type: process_type(p.cmdline), cpu_ms: p.cpu_ms }]));
}

export function cpu_between(before, after) {
    const by_type = {};
    for (const [pid, { type, cpu_ms }] of after) {
        by_type[type] = (by_type[type] || 0) + cpu_ms - (before.get(pid)?.cpu_ms || 0);
    }
    return by_type;
}
