import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The built pages must run under a strict CSP: no inline scripts or styles.
// Two pages: the messenger (index.html) and GraphiQL (graphiql.html, served by the gateway at
// /mychat/graphql); GraphiQL's React and Monaco load only on its page.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    rolldownOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        graphiql: resolve(import.meta.dirname, 'graphiql.html'),
      },
      // React libraries' "use client" means nothing outside a server-components bundler.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  worker: { format: 'es' },
  server: {
    // `npm run dev` talks to `mychat serve` on its default port.
    proxy: {
      '/mychat': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
});
