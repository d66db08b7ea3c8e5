// Builds the marketer console into ../internal/console/dist/ (embedded by
// the api): index.html plus content-hashed, minified ES modules and CSS
// under assets/. Screens with heavy libraries (the journey screen's
// CodeMirror, chart.js and dagre) are split into chunks loaded on demand,
// so the journeys list and member screens load only what they draw.
// The page runs under CSP default-src 'self': no inline script, no CDN.
import * as esbuild from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'internal', 'console', 'dist');
const assets = join(dist, 'assets');
const base = '/ui/';

// Old hashed assets and index.html go; dist/README (committed so go:embed
// compiles before the first build) and other files stay.
await rm(assets, { recursive: true, force: true });
await rm(join(dist, 'index.html'), { force: true });
await mkdir(assets, { recursive: true });

const result = await esbuild.build({
  entryPoints: { main: join(here, 'src', 'main.jsx') },
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.json': 'json' },
  outdir: assets,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  publicPath: base + 'assets/',
  metafile: true,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

// Find the entry's JS and the CSS esbuild extracted for it.
let js = '';
let css = '';
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (out.entryPoint && out.entryPoint.endsWith('src/main.jsx') && file.endsWith('.js')) {
    js = file.split('/').pop();
    if (out.cssBundle) css = out.cssBundle.split('/').pop();
  }
}
if (!js) throw new Error('build: esbuild produced no entry script');

const template = await readFile(join(here, 'src', 'index.html'), 'utf8');
const tags = [
  css && `<link rel="stylesheet" href="${base}assets/${css}">`,
  `<script type="module" src="${base}assets/${js}"></script>`,
].filter(Boolean).join('\n    ');
const html = template.replace('<!--assets-->', tags);
if (html === template) throw new Error('build: src/index.html has no <!--assets--> marker');
await writeFile(join(dist, 'index.html'), html);

const files = await readdir(assets);
let total = 0;
for (const [file, out] of Object.entries(result.metafile.outputs)) total += out.bytes;
console.log(`console: built ${files.length} assets (${Math.round(total / 1024)} KiB) into ${dist}`);
