// The console builds into the Python package, so `procflow serve` ships it without Node.js.
// Names carry a content hash (deterministic: same sources and lockfile, same bytes), which
// lets the server cache assets forever and CI compare a rebuild with the committed one.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  build: {
    outDir: "../src/procflow/api/console_dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        entryFileNames: "assets/console-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
});
