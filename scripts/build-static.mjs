// Bundle the browser code (bpmn-js modeler, case diagram viewer, dashboard charts) and its
// CSS and fonts from node_modules into app/static/build/ — served by Flask like any static
// file, no CDN.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await build({
  absWorkingDir: root,
  entryPoints: {
    modeler: 'frontend/modeler.js',
    'case-diagram': 'frontend/case-diagram.js',
    dashboard: 'frontend/dashboard.js',
    'modeler-style': 'frontend/modeler.css',
    'case-diagram-style': 'frontend/case-diagram.css',
  },
  outdir: 'app/static/build',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'linked',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  assetNames: 'assets/[name]-[hash]',
  logLevel: 'warning',
});
console.log('Built app/static/build/');
