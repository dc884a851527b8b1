/** Wire names shared by the API and its clients (no runtime dependencies: the desktop's client imports this). */

/** Header that carries a desktop's device credential. */
export const DEVICE_TOKEN_HEADER = "x-device-token";
