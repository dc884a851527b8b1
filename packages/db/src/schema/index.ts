export * from "./auth";
export * from "./chat";
export * from "./devices";
export * from "./repositories";
