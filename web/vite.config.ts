import { defineConfig } from "vite";

// Preact through esbuild's automatic JSX runtime (no Babel preset needed); hls.js in a chunk of its own
// (loaded on first play) so that the JS budget (tests/unit/test_web_budget.py) measures our code.
export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2020",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 700, // hls.js alone, loaded on first play
    rollupOptions: {
      output: {
        manualChunks: (id) => (id.includes("node_modules/hls.js") ? "hls" : undefined),
      },
    },
  },
});
