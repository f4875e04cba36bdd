/** See api-types.mjs. */
export declare const SPEC: URL;
export declare const TARGET: URL;
export declare const REFRESH_COMMAND: string;
export declare function generate(spec?: URL): Promise<string>;
export declare function staleness(
  spec?: URL,
  target?: URL
): Promise<string | null>;
