// Command provenance: every program the project's scripts call must come
// from a package that tests/stack/deps.sh installs (for the make target the
// script serves), from Debian's required set (what any Debian 12 has, even
// `debootstrap --variant=minbase`), or from build/tools/bin (deps.sh's own
// non-Debian installs).  A machine that happens to have a program already
// (as this one had cgi-fcgi and kubectl) passes `make test` while a new one
// fails: this check finds the missing package here, not on a user's machine.
//
// What "the scripts call" means: the command words of the shell scripts
// (tests/stack, deploy/run, tests/bench, .ci/run, the probe script the tests
// run, the Makefile's recipes and the README's shell blocks), and the
// programs the Node files spawn.  Which packages a command may come from:
//   deploy/run/*, tests/stack/lib.sh, README -> `deps.sh --list run`
//   tests/bench/*                            -> `deps.sh --list bench`
//   everything else                          -> `deps.sh --list test`
// each with its dependency closure (from the dpkg database).
// Run by `make test` (its own step, after deps); needs only dpkg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (p) => path.relative(ROOT, p);
const read = (p) => fs.readFileSync(p, 'utf8');

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

// Called only behind `command -v X`, with a fallback when X is absent.
const OPTIONAL = {
  ss: 'tests/stack/lib.sh uses bash /dev/tcp when iproute2 is not installed',
};
// Wrappers whose arguments are a command: how many words to skip first.
const WRAPPERS = {
  timeout: 1, exec: 0, nice: 0, nohup: 0, setsid: 0, sudo: 0, env: 0, xargs: 0,
  _stack_as_pg: 0, stack_step: 2, stack_wait_for: 2, run_bg: 0, flock: 1, check: 1,
};
const BUILTINS = new Set(`alias bg bind break builtin caller cd command compgen complete compopt
  continue declare dirs disown echo enable eval exec exit export false fc fg getopts hash help
  history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return
  set shift shopt source suspend test times trap true type typeset ulimit umask unalias unset wait
  . : [ [[ ]] ]] { } ! if then else elif fi case esac for select while until do done in function
  time coproc`.split(/\s+/).filter(Boolean));

// ------------------------------------------------------------ shell parsing

// Removes heredoc bodies (code of other languages) and comments, joins
// continued lines.
function cleanShell(text) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    let line = lines[i];
    const hd = line.match(/<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?/);
    // strip a comment: '#' at a word start outside quotes
    let q = null;
    for (let j = 0; j < line.length; j += 1) {
      const c = line[j];
      if (q) { if (c === q) q = null; else if (c === '\\' && q === '"') j += 1; continue; }
      if (c === '\\') { j += 1; continue; }
      if (c === "'" || c === '"') { q = c; continue; }
      if (c === '#' && (j === 0 || /\s/.test(line[j - 1]))) { line = line.slice(0, j); break; }
    }
    out.push(line);
    if (hd) {
      const end = hd[2];
      while (i + 1 < lines.length && (hd[1] ? lines[i + 1].trim() : lines[i + 1]) !== end) i += 1;
      i += 1;
    }
  }
  return out.join('\n').replace(/\\\n/g, ' ');
}

// Splits cleaned shell text into simple commands (arrays of words, quotes
// kept), descending into $( ... ) and ( ... ).  Not a full parser: enough for
// the command words of scripts written in this project's style.
function simpleCommands(text) {
  const cmds = [];
  let words = [];
  let w = '';
  const endWord = () => { if (w !== '') words.push(w); w = ''; };
  const endCmd = () => { endWord(); if (words.length) cmds.push(words); words = []; };
  let i = 0;
  // Reads a $( ... ) body starting after "$(": returns the index after ")".
  // The index of the ")" closing a "(" just before start (quotes respected).
  const closing = (start) => {
    let depth = 1; let j = start; let q = null;
    for (; j < text.length; j += 1) {
      const c = text[j];
      if (q) { if (c === q) q = null; else if (c === '\\' && q === '"') j += 1; continue; }
      if (c === "'" || c === '"') q = c;
      else if (c === '(') depth += 1;
      else if (c === ')') { depth -= 1; if (depth === 0) break; }
    }
    return j;
  };
  const subst = (start) => {
    const j = closing(start);
    cmds.push(...simpleCommands(text.slice(start, j)));
    return j + 1;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const j = text.indexOf("'", i + 1);
      w += text.slice(i, j < 0 ? text.length : j + 1); i = j < 0 ? text.length : j + 1; continue;
    }
    if (c === '"') {
      let j = i + 1; w += '"';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') { w += text.slice(j, j + 2); j += 2; continue; }
        if (text[j] === '$' && text[j + 1] === '(' && text[j + 2] !== '(') { j = subst(j + 2); w += '$S'; continue; }
        w += text[j]; j += 1;
      }
      w += '"'; i = j + 1; continue;
    }
    if (c === '\\') { w += text.slice(i, i + 2); i += 2; continue; }
    if (c === '$' && text[i + 1] === '(' && text[i + 2] === '(') {
      const j = text.indexOf('))', i); w += '$A'; i = j < 0 ? text.length : j + 2; continue;
    }
    if (c === '$' && text[i + 1] === '(') { i = subst(i + 2); w += '$S'; continue; }
    if (c === '$' && text[i + 1] === '{') {
      const j = text.indexOf('}', i); w += text.slice(i, j + 1); i = j + 1; continue;
    }
    if (c === '(' && text[i + 1] === '(' && w === '') {
      const j = text.indexOf('))', i); i = j < 0 ? text.length : j + 2; continue; // arithmetic
    }
    if ((c === '<' || c === '>') && text[i + 1] === '(') { i = subst(i + 2); w += '$P'; continue; }
    // 2>&1, >&2, &>file: redirections, not separators
    if (c === '&' && (/[<>]$/.test(w) || text[i + 1] === '>')) { w += c; i += 1; continue; }
    // NAME=( a b c ): an array value, one word
    if (c === '(' && /^[A-Za-z_][A-Za-z0-9_]*\+?=$/.test(w)) {
      const j = closing(i + 1); w += text.slice(i, j + 1); i = j + 1; continue;
    }
    if (/[;&|\n(){}`]/.test(c)) { endCmd(); i += 1; continue; }
    if (/\s/.test(c)) { endWord(); i += 1; continue; }
    w += c; i += 1;
  }
  endCmd();
  return cmds;
}

// The program a simple command runs, or null (a builtin, a function, a
// path, an assignment alone, something computed).
function commandWord(words, functions) {
  let k = 0;
  const skipRedirect = () => {
    while (k < words.length && /^[0-9]*[<>]/.test(words[k])) {
      if (/^[0-9]*[<>]+&?$/.test(words[k])) k += 1; // target is the next word
      k += 1;
    }
  };
  for (;;) {
    skipRedirect();
    if (k >= words.length) return null;
    let x = words[k];
    if (/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(x)) { k += 1; continue; } // VAR=...
    if (x === '!' || x === 'then' || x === 'do' || x === 'else' || x === 'elif' || x === 'if'
      || x === 'while' || x === 'until' || x === 'time') { k += 1; continue; }
    if (x === '"${sudo[@]}"') { k += 1; continue; }
    x = x.replace(/^["']|["']$/g, '');
    if (x === 'command') {
      if (words[k + 1] === '-v') return null; // a probe, not a call
      k += 1; continue;
    }
    if (x in WRAPPERS) {
      k += 1;
      // options and their values (timeout -k 10 N, runuser -u X --, env -i VAR=...)
      while (k < words.length && /^-/.test(words[k])) {
        const opt = words[k]; k += 1;
        if (opt === '--') break;
        if (/^-[ksuUnEg]$/.test(opt) && k < words.length) k += 1;
      }
      k += WRAPPERS[x];
      continue;
    }
    if (x === 'runuser') {
      k += 1;
      while (k < words.length && words[k] !== '--') k += 1;
      k += 1; continue;
    }
    if (/[$`*?]/.test(x) || x.includes('/') || x === '') return null;
    if (BUILTINS.has(x) || functions.has(x)) return null;
    if (/\)$/.test(x)) return null; // a case pattern
    return /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(x) ? x : null;
  }
}

function shellFunctions(text) {
  return [...text.matchAll(/^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)/gm)].map((m) => m[1]);
}

// Case arms ("run)", "a | b)") are patterns, not commands: blank them.
function dropCasePatterns(text) {
  let inCase = 0;
  return text.split('\n').map((l) => {
    if (/\bcase\b.*\bin\b/.test(l)) inCase += 1;
    if (/\besac\b/.test(l)) inCase = Math.max(0, inCase - 1);
    if (inCase) return l.replace(/(^|;;)\s*\(?[^\s()'"]*(\s*\|\s*[^\s()'"]+)*\)(?=\s|$)/g, '$1');
    return l;
  }).join('\n');
}

// ------------------------------------------------------------ sources

const listDir = (d, re) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => re.test(f)).map((f) => path.join(d, f)) : []);

function makefileShell() {
  // Variables first ($(B) -> $B), so that $(shell ...) bodies end at their own ")".
  const mk = read(path.join(ROOT, 'Makefile')).replace(/\\\n/g, ' ').replace(/\$\$/g, '$$$$')
    .replace(/\$\(CC\)/g, 'gcc').replace(/\$\(MAKE\)/g, 'make').replace(/\$\(([A-Za-z_]+)\)/g, '$$$1');
  const recipes = mk.split('\n').filter((l) => l.startsWith('\t')).map((l) => l.slice(1).replace(/^[@-]+/, ''));
  const shellFns = [...mk.matchAll(/\$\(shell\s+([^)]*)\)/g)].map((m) => m[1]);
  // Other make functions ($(dir $@), $(wildcard ...)) are values, not commands.
  return [...recipes, ...shellFns].join('\n')
    .replace(/\$\((?!shell)[a-z-]+ [^()]*\)/g, '$X').replace(/\$\(shell[^)]*\)/g, '$X')
    .replace(/\$\$/g, '$');
}

function readmeShell() {
  const blocks = [];
  let cur = null;
  for (const l of read(path.join(ROOT, 'README.md')).split('\n')) {
    if (/^```/.test(l)) { if (cur) { blocks.push(cur); cur = null; } else cur = []; continue; }
    if (cur) cur.push(l);
  }
  // Not the diagrams; the rest are commands to paste.
  return blocks.filter((b) => !b.some((l) => /[─└│]/.test(l))).map((b) => b.join('\n')).join('\n');
}

// [file, set, text] for every shell source.
function shellSources() {
  const set = (f) => {
    const r = rel(f);
    if (r.startsWith('deploy/run/') || r === 'tests/stack/lib.sh' || r === 'README.md') return 'run';
    if (r.startsWith('tests/bench/')) return 'bench';
    return 'test';
  };
  const files = [
    ...listDir(path.join(ROOT, 'tests/stack'), /\.sh$/),
    ...listDir(path.join(ROOT, 'deploy/run'), /\.sh$/),
    ...listDir(path.join(ROOT, 'tests/bench'), /\.sh$/),
    path.join(ROOT, '.ci/run'),
    path.join(ROOT, 'deploy/docker/clearance-probe'),
  ].filter((f) => fs.existsSync(f));
  const out = files.map((f) => [rel(f), set(f), read(f)]);
  out.push(['Makefile', 'test', makefileShell()]);
  out.push(['README.md', 'run', readmeShell()]);
  return out;
}

// Programs the Node files spawn by name: spawn('x' / spawnSync('x' / execFile... / run('x'.
function nodeCommands() {
  const dirs = ['tests/integration', 'tests/integration/lib', 'tests/stack', 'deploy/run'];
  const out = [];
  for (const d of dirs) {
    for (const f of listDir(path.join(ROOT, d), /\.m?js$/)) {
      const r = rel(f);
      const s = r.startsWith('deploy/run/') ? 'run' : 'test';
      const code = read(f).split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n');
      for (const m of code.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|run|run1|sh)\(\s*'([^'/\s]+)'/g)) {
        out.push([m[1], r, s]);
      }
    }
  }
  return out;
}

// command -> Map(set -> [files])
function calledCommands() {
  const found = new Map();
  const add = (cmd, file, s) => {
    if (!found.has(cmd)) found.set(cmd, new Map());
    const m = found.get(cmd);
    if (!m.has(s)) m.set(s, new Set());
    m.get(s).add(file);
  };
  const sources = shellSources();
  const functions = new Set(sources.flatMap(([, , t]) => shellFunctions(t)));
  for (const [file, s, text] of sources) {
    for (const words of simpleCommands(dropCasePatterns(cleanShell(text)))) {
      const c = commandWord(words, functions);
      if (c) add(c, file, s);
    }
  }
  for (const [c, file, s] of nodeCommands()) add(c, file, s);
  return found;
}

// ------------------------------------------------------------ packages

function depsList(set) {
  const r = sh('bash', [path.join(ROOT, 'tests/stack/deps.sh'), '--list', set]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split(/\s+/);
}

// The set's packages and everything they depend on, from the dpkg database
// (deps.sh has installed them; no apt lists needed).  Alternatives ("a | b")
// and virtual packages count when installed.
let installed = null;
function dpkgDb() {
  if (installed) return installed;
  const r = sh('dpkg-query', ['-W', '-f', '${Package}\t${db:Status-Abbrev}\t${Pre-Depends}, ${Depends}\t${Provides}\n']);
  installed = { deps: new Map(), providers: new Map() };
  for (const l of r.stdout.split('\n')) {
    const [p, st, deps, prov] = l.split('\t');
    if (!p || !/^ii/.test(st || '')) continue;
    installed.deps.set(p, (deps || '').split(',').flatMap((d) => d.split('|'))
      .map((d) => d.trim().replace(/[\s(:].*$/, '')).filter(Boolean));
    for (const v of (prov || '').split(',').map((d) => d.trim().replace(/[\s(:].*$/, '')).filter(Boolean)) {
      if (!installed.providers.has(v)) installed.providers.set(v, []);
      installed.providers.get(v).push(p);
    }
  }
  return installed;
}

const closures = new Map();
function closure(set) {
  if (closures.has(set)) return closures.get(set);
  const db = dpkgDb();
  const names = new Set();
  const todo = [...depsList(set)];
  while (todo.length) {
    const p = todo.pop();
    if (names.has(p)) continue;
    names.add(p);
    todo.push(...(db.deps.get(p) || []), ...(db.providers.get(p) || []));
  }
  closures.set(set, names);
  return names;
}

// Packages every Debian 12 has (Priority: required, Essential: yes).
function requiredPackages() {
  const r = sh('dpkg-query', ['-W', '-f', '${Package}\t${Priority}\t${Essential}\n']);
  const out = new Set();
  for (const l of r.stdout.split('\n')) {
    const [p, prio, ess] = l.split('\t');
    if (prio === 'required' || ess === 'yes') out.add(p);
  }
  return out;
}

const TOOLS_BIN = path.join(ROOT, 'build/tools/bin');
const SEARCH = [TOOLS_BIN, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function locate(cmd) {
  for (const d of SEARCH) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); if (fs.statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return null;
}

function owner(p) {
  for (const q of [p, fs.realpathSync(p)]) {
    for (const v of [q, q.replace(/^\/usr\//, '/'), q.startsWith('/usr/') ? q : `/usr${q}`]) {
      const r = sh('dpkg-query', ['-S', v]);
      const line = r.status === 0 && r.stdout.split('\n').find((l) => l && !l.startsWith('diversion by'));
      if (line) return line.split(':')[0].split(',')[0].trim();
    }
  }
  return null;
}

// ------------------------------------------------------------ tests

export { simpleCommands, cleanShell, dropCasePatterns };
test('the parser finds command words and skips the rest', () => {
  const fns = new Set(['myfn']);
  const cmds = (t) => simpleCommands(dropCasePatterns(cleanShell(t))).map((w) => commandWord(w, fns)).filter(Boolean).sort();
  assert.deepEqual(cmds('X=1 timeout -k 10 5 curl -s "$(jq -r .a f | sort)" # git here\nmyfn a; echo b'),
    ['curl', 'jq', 'sort']);
  assert.deepEqual(cmds('A+=("x (y)") && B=(a b)\nls 2>&1 >/dev/null &>x'), ['ls']);
  assert.deepEqual(cmds("grep -E 'a|b' f && runuser -u postgres -- initdb\ncase $x in\nrun) make ;;\n"
    + 'a) x=1 ;; b | c) cat ;;\nesac'), ['cat', 'grep', 'initdb', 'make']);
  assert.deepEqual(cmds('cat <<EOF\nnot a command\nEOF\n((i < 5)) && stack_step "x" 60 nginx -t'), ['cat', 'nginx']);
  assert.deepEqual(cmds('command -v ss >/dev/null && "${sudo[@]}" apt-get install x'), ['apt-get']);
});

test('every command the scripts call comes from a package deps.sh installs', () => {
  const required = requiredPackages();
  const tools = sh('bash', [path.join(ROOT, 'tests/stack/deps.sh'), '--tools']).stdout.trim().split(/\s+/);
  const found = calledCommands();
  assert.ok(found.size >= 30, `found only ${found.size} commands: is the parser broken?`);
  for (const must of ['nginx', 'spawn-fcgi', 'curl', 'jq', 'kubectl', 'cgi-fcgi', 'valgrind', 'psql']) {
    assert.ok(found.has(must), `${must} is among the commands found`);
  }
  const problems = [];
  for (const [cmd, sets] of [...found].sort()) {
    if (OPTIONAL[cmd]) continue;
    const p = locate(cmd);
    const where = [...sets].map(([s, fs_]) => `${[...fs_].join(', ')} (${s})`).join('; ');
    if (!p) {
      // Not on this machine: fine if a package of that name is in every set that calls it.
      if (![...sets.keys()].every((s) => closure(s).has(cmd))) {
        problems.push(`${cmd}: not installed here, and no package deps.sh installs is named so; called by ${where}`);
      }
      continue;
    }
    if (p.startsWith(`${TOOLS_BIN}/`)) {
      if (!tools.includes(cmd)) problems.push(`${cmd}: in build/tools/bin but not one of deps.sh --tools`);
      continue;
    }
    const pkg = owner(p);
    if (!pkg) { problems.push(`${cmd}: ${p} is from no Debian package; called by ${where}`); continue; }
    if (required.has(pkg)) continue;
    for (const [s, files] of sets) {
      if (!closure(s).has(pkg)) {
        problems.push(`${cmd} (package ${pkg}) is called by ${[...files].join(', ')} but \`deps.sh ${s}\` does not install ${pkg}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the optional commands really are optional (probed with command -v)', () => {
  const all = shellSources().map(([, , t]) => t).join('\n');
  for (const c of Object.keys(OPTIONAL)) {
    assert.match(all, new RegExp(`command -v ${c}\\b`), `${c} is probed before use`);
  }
});

test('the build uses gcc and make, from the run set', () => {
  const run = closure('run');
  for (const p of ['gcc', 'make', 'pkg-config', 'binutils', 'libc6-dev']) assert.ok(run.has(p), p);
  assert.match(read(path.join(ROOT, 'Makefile')), /^CC := gcc$/m);
});
if (process.env.COMMANDS_DUMP) {
  for (const [c, sets] of [...calledCommands()].sort()) console.log(c, [...sets.keys()].join(','));
}
