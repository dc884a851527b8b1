import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Each Claude Code start costs about 2 s of CPU: run test files one after another.
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 90_000,
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "scripts/**/*.test.ts"],
  },
});
