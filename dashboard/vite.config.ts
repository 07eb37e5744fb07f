// Builds the dashboard into dist/, which the prynt binary embeds and serves under /dashboard/.
// File names carry content hashes and the build takes no input but the sources and the
// lockfile, so the same commit always produces the same dist/.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  base: '/dashboard/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
});
