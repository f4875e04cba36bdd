/**
 * The nbops REST API's types, generated from
 * python_pkg/nbops/server/openapi.yaml by `jlpm run api:types`.
 * Do not edit: change the OpenAPI file and run that command.
 */

export interface paths {
    "/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Version and the MLflow store this server reads. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Server status. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            version: string;
                            /** @description Tracking URI without its password. */
                            store: string;
                            /** @enum {string} */
                            store_source: "env" | "pyproject" | "default";
                            project_root: string;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The newest runs across all active experiments, newest first. */
        get: {
            parameters: {
                query?: {
                    max_results?: number;
                    /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
                    page_token?: components["parameters"]["PageToken"];
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of runs. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            runs: components["schemas"]["Run"][];
                            next_page_token: string | null;
                            store: string;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One page of registered models, by name, with what the sidebar shows of each.
         * @description Paged by the store; `total` counts every model matching the filter. Nothing is cached: each page reflects the store at the time of the request.
         */
        get: {
            parameters: {
                query?: {
                    max_results?: number;
                    /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
                    page_token?: components["parameters"]["PageToken"];
                    /** @description Part of the model name, case-insensitive (`%` and `_` act as wildcards). Up to 200 characters, one line, at most one kind of quote. */
                    filter?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of models. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            models: components["schemas"]["ModelSummary"][];
                            /** @description Models matching the filter */
                            total: number;
                            next_page_token: string | null;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
            };
            cookie?: never;
        };
        /** One page of a model's versions, newest first. */
        get: {
            parameters: {
                query?: {
                    max_results?: number;
                    /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
                    page_token?: components["parameters"]["PageToken"];
                };
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of versions. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            model: string;
                            versions: components["schemas"]["VersionSummary"][];
                            total: number;
                            next_page_token: string | null;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/versions/{version}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
                version: components["parameters"]["Version"];
            };
            cookie?: never;
        };
        /** One version in full - lineage, metrics, gates, policy gaps and the model card. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                    version: components["parameters"]["Version"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The version. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["VersionDetail"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/versions/{version}/monitoring": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
                version: components["parameters"]["Version"];
            };
            cookie?: never;
        };
        /** Monitoring metrics of a version, batch by batch, for charts. */
        get: {
            parameters: {
                query?: {
                    /** @description Comma-separated metric names or shell-style patterns (`drift.share,drift.*.psi`), at most 50. Absent: every metric that is not per feature. */
                    metrics?: string;
                };
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                    version: components["parameters"]["Version"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Metric name → points in batch order; `{}` for a version without batches. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            [key: string]: {
                                /** @description Batch number. */
                                step: number;
                                /** @description Epoch milliseconds of the batch. */
                                timestamp: number;
                                value: number;
                            }[];
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/promote": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Point an alias at a version, under the promotion policy; audited as the Jupyter user. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                };
                cookie?: never;
            };
            /** @description JSON object of at most 64 KiB; unknown fields are refused. */
            requestBody: {
                content: {
                    "application/json": {
                        version: string | number;
                        /** @example champion */
                        alias: string;
                        /** @description Required; goes into the audit log (at most 2000 characters). */
                        reason: string;
                        /**
                         * @description Promote although required gates have not passed; audited as forced.
                         * @default false
                         */
                        force?: boolean;
                    };
                };
            };
            responses: {
                /** @description The change and the model's aliases now. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["AliasChange"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                /** @description The promotion policy requires gates this version has not passed; nothing changed. */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"] & {
                            /** @description Required gates not run, failed or errored, in policy order. */
                            missing_gates: string[];
                        };
                    };
                };
                413: components["responses"]["TooLarge"];
                503: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Point an alias back at the version it held before; audited as the Jupyter user. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                };
                cookie?: never;
            };
            /** @description JSON object of at most 64 KiB; unknown fields are refused. */
            requestBody: {
                content: {
                    "application/json": {
                        /** @default champion */
                        alias?: string;
                        reason: string;
                    };
                };
            };
            responses: {
                /** @description The change and the model's aliases now. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["AliasChange"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                413: components["responses"]["TooLarge"];
                503: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Audit events, newest first, paged, with the total.
         * @description The page token names the last event shown, so events appended while a user pages do not shift the pages.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Only the events of this model. */
                    model?: string;
                    max_results?: number;
                    /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
                    page_token?: components["parameters"]["PageToken"];
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of events. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            events: components["schemas"]["AuditEvent"][];
                            total: number;
                            next_page_token: string | null;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Monitoring alerts, newest first. */
        get: {
            parameters: {
                query?: {
                    model?: string;
                    state?: "open" | "resolved";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The alerts. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Alert"][];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Model servers started with `nbops serve`, newest first, with their latest stats.
         * @description Read from the `nbops-deployments` experiment: one run per server, RUNNING while it is up. A server whose last heartbeat is older than three heartbeat periods is `stale` (it died without saying so); `stopped=true` adds the servers that have ended.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Only the servers of this registered model. */
                    model?: string;
                    stopped?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The deployments. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Deployment"][];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments/{deployment_id}/traffic": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The deployment's id (its MLflow run id), as `/deployments` lists it. */
                deployment_id: string;
            };
            cookie?: never;
        };
        /**
         * One server's traffic over time and its canary so far.
         * @description Computed by `nbops.deployment_listing.traffic` from the inference batches the versions this server served logged since it started (`nbops-monitoring`): per batch, requests per minute, p95 latency and error rate. A version's batches come from every server of it.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description The deployment's id (its MLflow run id), as `/deployments` lists it. */
                    deployment_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The series and the canary state. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DeploymentTraffic"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/canary/promote": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End the model's running canary by promoting its challenger (`nbops canary promote`).
         * @description The promotion policy applies: a challenger missing required gates is refused with 409 and nothing changes. The servers act on their next poll; the ending is audited (`canary-promoted`, plus the registry's `promote`, source `canary`).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                };
                cookie?: never;
            };
            /** @description JSON object of at most 64 KiB; unknown fields are refused. */
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Required; goes into the audit log. */
                        reason: string;
                    };
                };
            };
            responses: {
                /** @description The canary's ending and the servers told. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["CanaryEnding"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                /** @description The promotion policy requires gates the challenger has not passed; nothing changed. */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"] & {
                            missing_gates: string[];
                        };
                    };
                };
                413: components["responses"]["TooLarge"];
                503: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{name}/canary/abort": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                name: components["parameters"]["ModelName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End the model's running canary now (`nbops canary abort`); the champion keeps serving.
         * @description The servers send 0 % to the challenger on their next poll; audited as `canary-aborted`.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
                    name: components["parameters"]["ModelName"];
                };
                cookie?: never;
            };
            /** @description JSON object of at most 64 KiB; unknown fields are refused. */
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Required; goes into the audit log. */
                        reason: string;
                    };
                };
            };
            responses: {
                /** @description The canary's ending and the servers told. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["CanaryEnding"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                413: components["responses"]["TooLarge"];
                503: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readiness": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Production readiness of the registered models on the ML Test Score (`nbops assess --json`).
         * @description What `nbops.assess(model)` returns, as the schema `nbops.assess/1`: per model its score (the lowest section), the points per section and every test with its status, the evidence that counted and the one next step that would earn the missing points; the project's level is the weakest model's. An unknown model is a 404.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Only this registered model (default every model). */
                    model?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The assessment. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Readiness"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["Error"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One page of the prompts in the project's prompt registry, by name.
         * @description Read through `nbops.prompts.list_prompts`; `total` counts every prompt. The token is the offset of the next page's first prompt.
         */
        get: {
            parameters: {
                query?: {
                    max_results?: number;
                    /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
                    page_token?: components["parameters"]["PageToken"];
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of prompts. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            prompts: components["schemas"]["PromptSummary"][];
                            total: number;
                            next_page_token: string | null;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompts/{name}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                name: components["parameters"]["PromptName"];
            };
            cookie?: never;
        };
        /** One page of a prompt's versions, newest first, with template, variables and aliases. */
        get: {
            parameters: {
                query?: {
                    max_results?: number;
                    /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
                    page_token?: components["parameters"]["PageToken"];
                };
                header?: never;
                path: {
                    /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                    name: components["parameters"]["PromptName"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of versions. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            versions: components["schemas"]["PromptVersion"][];
                            total: number;
                            next_page_token: string | null;
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompts/{name}/diff": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                name: components["parameters"]["PromptName"];
            };
            cookie?: never;
        };
        /** A line diff of two versions' templates (a chat prompt message by message). */
        get: {
            parameters: {
                query: {
                    /** @description The older version (the diff's `-` side). */
                    from: string;
                    /** @description The newer version (the diff's `+` side). */
                    to: string;
                };
                header?: never;
                path: {
                    /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                    name: components["parameters"]["PromptName"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The diff; `added` and `removed` count lines. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PromptDiff"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompts/{name}/usage": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                name: components["parameters"]["PromptName"];
            };
            cookie?: never;
        };
        /**
         * The logged LLM windows of the version an alias holds (or of a version), for charts.
         * @description Read through `nbops.llm.history`: calls, errors, tokens, cost, cost per 1,000 calls and latency percentiles the store aggregated when each window was logged (`llm.log_window`), and `quality.<scorer>` from the version's latest evaluation. Give exactly one of `alias` and `version`.
         */
        get: {
            parameters: {
                query?: {
                    alias?: string;
                    version?: string;
                };
                header?: never;
                path: {
                    /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                    name: components["parameters"]["PromptName"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Metric → points by window; `series` is `{}` before the first window. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            prompt: string;
                            version: string;
                            alias: string | null;
                            series: {
                                [key: string]: {
                                    /** @description Window number. */
                                    step: number;
                                    /** @description Epoch milliseconds of the window's end. */
                                    timestamp: number;
                                    value: number;
                                }[];
                            };
                        };
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                503: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompts/{name}/promote": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                name: components["parameters"]["PromptName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Point a prompt's alias at a version, under the promotion policy; audited as `prompts:/NAME`. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                    name: components["parameters"]["PromptName"];
                };
                cookie?: never;
            };
            /** @description JSON object of at most 64 KiB; unknown fields are refused. */
            requestBody: {
                content: {
                    "application/json": {
                        version: string | number;
                        /** @example production */
                        alias: string;
                        /** @description Required; goes into the audit log (at most 2000 characters). */
                        reason: string;
                        /**
                         * @description Promote although required gates have not passed; audited as forced.
                         * @default false
                         */
                        force?: boolean;
                    };
                };
            };
            responses: {
                /** @description The change (`model` is `prompts:/NAME`) and the prompt's aliases now. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["AliasChange"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                /** @description The promotion policy requires gates this version has not passed; nothing changed. */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"] & {
                            missing_gates: string[];
                        };
                    };
                };
                413: components["responses"]["TooLarge"];
                503: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompts/{name}/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                name: components["parameters"]["PromptName"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Point a prompt's alias back at the version it held before; audited as `prompts:/NAME`. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
                    name: components["parameters"]["PromptName"];
                };
                cookie?: never;
            };
            /** @description JSON object of at most 64 KiB; unknown fields are refused. */
            requestBody: {
                content: {
                    "application/json": {
                        /** @example production */
                        alias: string;
                        reason: string;
                    };
                };
            };
            responses: {
                /** @description The change and the prompt's aliases now. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["AliasChange"];
                    };
                };
                400: components["responses"]["Error"];
                403: components["responses"]["Forbidden"];
                404: components["responses"]["NotFound"];
                409: components["responses"]["Error"];
                413: components["responses"]["TooLarge"];
                503: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Run: {
            run_id: string;
            run_name: string;
            /** @enum {string} */
            status: "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";
            /** @description Epoch milliseconds. */
            start_time: number | null;
            /** @description Epoch milliseconds; null while running. */
            end_time: number | null;
            duration_ms: number | null;
            experiment_id: string;
            experiment_name?: string | null;
        };
        /** @description Gate name → result. */
        GateResults: {
            [key: string]: "passed" | "failed" | "error";
        };
        ModelSummary: {
            name: string;
            description: string;
            /** @description Alias → version. */
            aliases: {
                [key: string]: string;
            };
            /** @description Null for a model without versions. */
            latest_version: string | null;
            versions_count: number;
            /** @description Gate results of the versions this row shows - the latest version and every alias holder - by version (`{}` for a shown version without gate results). */
            gates: {
                [key: string]: components["schemas"]["GateResults"];
            };
            /** @description Alias → the gates `[tool.nbops.policy]` requires before a version may hold it (a `[tool.nbops.policy.models.<name>]` table overrides per model). Aliases without requirements are left out. */
            required_gates: {
                [key: string]: string[];
            };
            open_alerts: number;
            /** @description Epoch milliseconds of the model's last change. */
            updated: number;
        };
        VersionSummary: {
            version: string;
            aliases: string[];
            /** @enum {string} */
            status: "PENDING_REGISTRATION" | "FAILED_REGISTRATION" | "READY";
            run_id: string | null;
            /** @description Epoch milliseconds. */
            created: number;
            /** @description Epoch milliseconds. */
            updated: number;
            description: string;
            gates: components["schemas"]["GateResults"];
        };
        VersionDetail: {
            model: string;
            version: string;
            status: string;
            description: string;
            created: number;
            updated: number;
            run_id: string | null;
            aliases: string[];
            /** @description Per alias this version holds, the version a rollback would restore (null when none). */
            rollback: {
                [key: string]: string | null;
            };
            lineage: {
                notebook: string | null;
                cell_sha256: string | null;
                git: {
                    commit?: string | null;
                    branch?: string | null;
                    dirty?: boolean;
                };
                python: string | null;
                requirements: string[];
                /** @description The training run; null when the version has none or it was deleted. */
                source_run: {
                    run_id?: string;
                    run_name?: string;
                    experiment_id?: string;
                    status?: string;
                    start_time?: number | null;
                    end_time?: number | null;
                } | null;
                datasets: {
                    name?: string;
                    context?: string;
                    /** @example 150x4 */
                    shape?: string;
                    sha256?: string;
                }[];
            };
            /** @description The training run's final metric values. */
            metrics: {
                [key: string]: number;
            };
            params: {
                [key: string]: string;
            };
            /** @description Gate → its last result, the gate run and when (from the `nbops.gate.<gate>` tag). */
            gates: {
                [key: string]: {
                    /** @enum {string} */
                    result?: "passed" | "failed" | "error";
                    run_id?: string | null;
                    /** @description UTC ISO-8601. */
                    time?: string | null;
                };
            };
            /** @description For each alias with required gates - what is required and what this version still lacks. */
            policy: {
                [key: string]: {
                    required?: string[];
                    missing?: string[];
                };
            };
            /** @description How the version was deployed, when `nbops deploy image|manifests` recorded it. */
            deploy: {
                /** @description The image tag (`nbops.deploy.image`). */
                image: string | null;
                /** @description The registry's digest (`nbops.deploy.image_digest`); set only once the image was pushed. */
                image_digest: string | null;
                /** @description The local engine's image ID; it cannot be pulled. */
                image_id: string | null;
                /** @description The manifests generated for it (`nbops.deploy.manifests`). */
                manifests: {
                    /** @example kserve */
                    target: string;
                    folder: string;
                } | null;
            } | null;
            /** @description The latest `nbops reproduce` verdict on this version; null when it was never reproduced. */
            reproduction: {
                /** @enum {string} */
                verdict: "reproduced" | "differs" | "could not run";
                /** @description UTC ISO-8601. */
                time: string | null;
                /** @description The gate run that holds the report. */
                run_id: string | null;
                /** @description The run the notebook logged when run again. */
                reproduced_run_id: string | null;
                /** @description One line - the verdict */
                summary: string;
                /** @description The original run's metrics beside the reproduction's (empty when the report is unreadable). */
                metrics: {
                    name: string;
                    original: number | null;
                    /** @description Null when the reproduction did not log it. */
                    new: number | null;
                    /** @description Relative difference; null when missing. */
                    difference: number | null;
                    /** @description The relative tolerance allowed. */
                    tolerance: number | null;
                    ok: boolean;
                }[];
            } | null;
            /** @description The model card as an HTML fragment; user text in it is escaped. */
            card_html: string;
        };
        /** @description `nbops assess --json` (schema `nbops.assess/1`); fields are only ever added. */
        Readiness: {
            /** @enum {string} */
            schema: "nbops.assess/1";
            nbops_version: string;
            /** @description UTC ISO-8601. */
            generated: string;
            rubric: string;
            /** @description The alias a model is assessed on (else its latest version). */
            serving_alias: string;
            project: {
                models: number;
                /** @description The weakest model's score; null without models. */
                score: number | null;
                /** @description The paper's words for the score. */
                level: string | null;
                /** @description The models with the lowest score. */
                weakest: string[];
                /** @description Tests by status over every model. */
                counts: {
                    automated: number;
                    "by hand": number;
                    missing: number;
                    "not assessable": number;
                };
                audit: {
                    intact: boolean;
                    events: number;
                    problems: string[];
                };
                review_every: string | null;
            };
            models: components["schemas"]["ModelReadiness"][];
        };
        ModelReadiness: {
            model: string;
            /** @description The version assessed; null without versions. */
            version: string | null;
            /** @description Whether that version holds the serving alias. */
            serves: boolean;
            /** @description The lowest section score. */
            score: number;
            level: string;
            sections: {
                data: number;
                model: number;
                infrastructure: number;
                monitoring: number;
            };
            tests: {
                /** @example data-1 */
                id: string;
                /** @enum {string} */
                section: "data" | "model" | "infrastructure" | "monitoring";
                title: string;
                /** @enum {string} */
                status: "automated" | "by hand" | "missing" | "not assessable";
                points: number;
                evidence: string[];
                /** @description A command to run or a pyproject.toml line. */
                next_step: string | null;
            }[];
        };
        AliasChange: {
            model: string;
            alias: string;
            from_version: string | null;
            to_version: string | null;
            /** @description The audit event's sequence number. */
            seq: number;
            /** @description Present (true) when required gates were overridden. */
            forced?: boolean;
            /** @description Every alias of the model now, alias → version. */
            aliases: {
                [key: string]: string;
            };
        };
        AuditEvent: {
            seq: number;
            /** @description UTC ISO-8601 with milliseconds. */
            time: string;
            actor: string;
            /** @example promote */
            action: string;
            model?: string | null;
            version?: string | null;
            alias?: string | null;
            from_version?: string | null;
            to_version?: string | null;
            reason?: string | null;
            /** @example sidebar */
            source?: string | null;
            details?: {
                [key: string]: string;
            };
            prev_hash?: string;
            hash?: string;
            run_id?: string | null;
            /** @description One line, e.g. `#7 2025-01-31T09:30:00.123Z alice promote churn v3 @champion 2→3 — why [sidebar]`. */
            summary: string;
        };
        /** @description An alert as `nbops.monitoring.alerts` returns it. Its fields are the alert run's `nbops.alert.*` tags; a field whose tag was never written is absent (never null). A retraining the alert's rule started adds the `retrain_*` fields and, once it finished, its outcome (`challenger_version`, `retrain_run`, `gates`, `gate_runs`, `promoted`, `promotion_event`); they are strings, as tags are. */
        Alert: {
            /** @description The alert's MLflow run id. */
            id: string;
            /** @description Each notification channel's latest outcome for the alert's opening and resolution (opened first, then by channel); empty when the rule notifies no one. */
            deliveries: components["schemas"]["Delivery"][];
            /** @enum {string} */
            state: "open" | "resolved";
            rule: string;
            model: string;
            version: string;
            /** @example drift.share */
            metric: string;
            /** @example >= */
            op?: string;
            threshold?: number;
            window?: number;
            /** @example critical */
            severity: string;
            /** @description The rule's episode number on this version (a decimal string); one alert per episode. */
            episode?: string;
            /** @description The metric value that opened the alert. */
            value?: number;
            message: string;
            /** @description UTC ISO-8601. */
            opened_at?: string;
            opened_batch?: number;
            resolved_at?: string;
            resolved_batch?: number;
            /**
             * @description The retraining job's state; a queued or running job whose process is gone reads as `failed`. Absent when the rule retrains nothing.
             * @enum {string}
             */
            retrain_state?: "queued" | "running" | "finished" | "failed";
            /** @description Why the retraining failed; only with `retrain_state: failed`. */
            retrain_error?: string;
            /** @description Path of the executed copy of the retrain notebook. */
            retrain_notebook?: string;
            /** @description Path of the job's log (`job.log` beside the report). */
            retrain_log?: string;
            /** @description UTC ISO-8601; when the job was queued. */
            retrain_queued_at?: string;
            /** @description UTC ISO-8601; when the job's process began. */
            retrain_started_at?: string;
            /** @description UTC ISO-8601; when the job's end was recorded. */
            retrain_ended_at?: string;
            /** @description Host name of the machine the job runs on. */
            retrain_host?: string;
            /** @description Process id of the job (a decimal string), on `retrain_host`. */
            retrain_pid?: string;
            /** @description The job process's start time, epoch seconds as a decimal string; empty if unknown. */
            retrain_process_start?: string;
            /** @description The model version the retraining registered. */
            challenger_version?: string;
            /** @description The MLflow run id of the retraining's training run. */
            retrain_run?: string;
            /**
             * @description The verdict of the required gates on the challenger.
             * @enum {string}
             */
            gates?: "passed" | "failed" | "none required";
            /** @description The gate runs' MLflow run ids, comma-separated. */
            gate_runs?: string;
            /**
             * @description `true` when the challenger was promoted to champion automatically; absent otherwise.
             * @enum {string}
             */
            promoted?: "true";
            /** @description The audit log sequence number of that promotion (a decimal string). */
            promotion_event?: string;
        };
        /** @description The latest outcome of one channel's notification about one stage of an alert. */
        Delivery: {
            /**
             * @description Which message - the alert opening or resolving.
             * @enum {string}
             */
            stage: "opened" | "resolved";
            /** @description The channel's name under `[tool.nbops.notify]`. */
            channel: string;
            /** @enum {string} */
            state: "delivered" | "retrying" | "failed";
            /** @description Attempts made so far. */
            attempts: number;
            /** @description The receiver's answer or why it failed, e.g. `HTTP 200 ok`. */
            detail: string;
            /** @description UTC ISO-8601 of the latest attempt. */
            at: string | null;
        };
        PromptSummary: {
            name: string;
            description: string;
            /** @description Epoch milliseconds. */
            created: number | null;
            tags: {
                [key: string]: string;
            };
            /** @description Alias → version. */
            aliases: {
                [key: string]: string;
            };
        };
        PromptVersion: {
            version: string;
            aliases: string[];
            /** @description True when `template` is a list of messages. */
            chat: boolean;
            template: string | {
                role: string;
                content: string;
            }[];
            /** @description The `{{names}}` the template takes. */
            variables: string[];
            /** @description The commit message. */
            message: string;
            /** @description Epoch milliseconds. */
            created: number | null;
            content_hash: string;
            gates: components["schemas"]["GateResults"];
            tags: {
                [key: string]: string;
            };
            /** @description The latest `nbops.llm.evaluate` of the version; null before any. */
            evaluation: {
                /** @description The evaluation's MLflow run id. */
                run: string | null;
                rows: number | null;
                /** @description ISO 8601 time the evaluation started. */
                at: string | null;
                scores: {
                    scorer: string;
                    /** @description Null when no row could be scored. */
                    mean: number | null;
                    /** @example ok */
                    status: string;
                }[];
            } | null;
        };
        PromptDiff: {
            prompt: string;
            from_version: string;
            to_version: string;
            /** @description True when the newer version is a list of messages. */
            chat: boolean;
            added: number;
            removed: number;
            /** @description One per message (one for a text prompt), messages paired by role. */
            blocks: {
                /** @description Null for a text prompt. */
                role: string | null;
                old_role: string | null;
                /** @enum {string} */
                change: "same" | "changed" | "added" | "removed";
                lines: {
                    /**
                     * @description Kept, added or removed.
                     * @enum {string}
                     */
                    op: " " | "+" | "-";
                    text: string;
                    /** @description Line number in the older version. */
                    old: number | null;
                    /** @description Line number in the newer version. */
                    new: number | null;
                }[];
            }[];
        };
        /** @description One model server as `nbops.serving.deployments.list_deployments` returns it. */
        Deployment: {
            /** @description The deployment's MLflow run id. */
            id: string;
            model: string;
            /** @example champion */
            alias: string;
            /** @description The version the alias served at the last heartbeat. */
            version: string;
            /** @example http://127.0.0.1:5001 */
            url: string;
            host: string;
            /** @description Process id of the server on `host` (a decimal string). */
            pid: string;
            /** @enum {string} */
            status: "live" | "stale" | "stopped";
            /** @description Alias → percent of request IDs it receives; empty without a canary. */
            canary: {
                [key: string]: number;
            };
            /** @description The alias every request is copied to. */
            shadow: string | null;
            /** @description The server's counters at its last heartbeat, e.g. the inference log's `logged_rows`, `logged_batches`, `dropped_rows`, `pending_rows` and `last_error`. The sidebar also shows `requests_per_minute`, `p95_ms` and `error_rate` (a fraction) when a server reports them. */
            stats: {
                [key: string]: unknown;
            };
            /** @description Epoch seconds. */
            started: number | null;
            /** @description Epoch seconds of the last heartbeat. */
            heartbeat: number | null;
            /** @description Seconds since the last heartbeat. */
            heartbeat_age: number | null;
            /** @description The server's heartbeat period. */
            heartbeat_seconds: number;
            /** @description Epoch seconds when it ended; null while running. */
            stopped: number | null;
        };
        DeploymentTraffic: {
            deployment_id: string;
            model: string;
            alias: string;
            /** @description Epoch seconds. */
            started: number | null;
            /** @description Epoch seconds; null while running. */
            stopped: number | null;
            /** @description The versions the server served, with the role each had. */
            versions: {
                version: string;
                /** @enum {string} */
                role: "champion" | "canary" | "shadow";
            }[];
            /** @description One per inference batch since the server started, by version then time. */
            points: {
                version: string;
                /** @enum {string} */
                role: "champion" | "canary" | "shadow";
                batch: number;
                /** @description Epoch milliseconds of the batch. */
                time: number;
                /** @description Rows in the batch (answered */
                rows: number;
                /** @description Rows over the minutes since the version's previous batch (or the server's start). */
                requests_per_minute: number | null;
                p95_ms: number | null;
                /** @description Share of rows that failed with a 5xx. */
                error_rate: number | null;
            }[];
            /** @description The canary state the server recorded; null when it runs no analysed canary. */
            canary: components["schemas"]["CanaryState"] | null;
        };
        CanaryState: {
            /** @enum {string} */
            state: "running" | "promoted" | "rolled_back" | "aborted" | "blocked";
            /** @enum {string} */
            verdict: "running" | "passed" | "failed";
            reason: string;
            step: number;
            /** @description The share of each step */
            steps: number[];
            /** @description Percent of requests the challenger receives now. */
            share: number;
            /** @description The challenger's alias. */
            alias: string;
            /** @description The challenger's version. */
            version: string;
            champion_alias: string;
            champion_version: string;
            min_requests: number;
            /** @description Per side (`champion`, `challenger`) this step's requests, errors, error_rate, latency_p95_ms. */
            requests: {
                [key: string]: unknown;
            };
            rules: {
                rule: string;
                value: number | null;
                limit: number;
                /** @description null while the rule waits for data. */
                passed: boolean | null;
                note: string;
            }[];
            updated: string | null;
        };
        CanaryEnding: {
            model: string;
            version: string;
            /** @enum {string} */
            state: "promoted" | "aborted";
            verdict: string;
            /** @description The deployments told. */
            servers: string[];
        };
        Error: {
            /** @description One line - what went wrong and what to do. */
            message: string;
            /** @description The error's kind, e.g. InvalidInput, NotFound, PolicyError. */
            error: string;
        };
    };
    responses: {
        /** @description The request was invalid (400), or the store is unreachable or MLflow could not be loaded in the Jupyter server (503); the message says what to change. */
        Error: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description No such model or version. */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description The request body is larger than 64 KiB; it was not parsed. */
        TooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Missing or invalid Jupyter credentials, not authorized for nbops, or (POST with the session cookie) a missing XSRF token. */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content?: never;
        };
    };
    parameters: {
        /** @description The `next_page_token` of the previous page; a token from elsewhere is a 400. */
        PageToken: string;
        /** @description Registered model name, percent-encoded; no `/ \ : % # ?` or control characters. */
        ModelName: string;
        /** @description Prompt name (letters, digits, `-`, `_`, `.`), without `prompts:/`. */
        PromptName: string;
        Version: string;
    };
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
