import { defineConfig } from 'vite';

// The built page must run under a strict CSP: no inline scripts or styles.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // `npm run dev` talks to `mychat serve` on its default port.
    proxy: {
      '/mychat': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
});
