/** A small typed client of the writeback HTTP API, for the operator CLI and the agent. */
export interface ApiErrorBody {
  error: { code: string; message: string; requestId: string; fields?: string[]; reason?: string };
}

export interface BannedTerms {
  mode: "enforce" | "audit";
  customTerms: string[];
  limits: { maxTerms: number; minTermChars: number; maxTermChars: number };
  globalList: { package: string; version: string; count: number };
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class WritebackApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 90_000,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl.replace(/\/$/, "")}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      throw new ApiError(0, "UNREACHABLE", `The API at ${this.baseUrl} could not be reached.`);
    }
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const error = (json as Partial<ApiErrorBody> | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? response.statusText);
    }
    return json as T;
  }

  status(tenantId: string): Promise<Record<string, unknown>> {
    return this.call("GET", `/v1/tenants/${tenantId}/writeback`);
  }
  setSettings(tenantId: string, settings: { enabled: boolean; allowUnlockWithoutReset: boolean; bannedPasswordMode?: "enforce" | "audit" }): Promise<Record<string, unknown>> {
    return this.call("PUT", `/v1/tenants/${tenantId}/writeback`, settings);
  }
  bannedTerms(tenantId: string): Promise<BannedTerms> {
    return this.call("GET", `/v1/tenants/${tenantId}/writeback/banned-passwords`);
  }
  changeBannedTerms(tenantId: string, change: { add?: string[]; remove?: string[] }): Promise<BannedTerms & { added: number; removed: number }> {
    return this.call("PATCH", `/v1/tenants/${tenantId}/writeback/banned-passwords`, change);
  }
  rotateKeys(tenantId: string): Promise<Record<string, unknown>> {
    return this.call("POST", `/v1/tenants/${tenantId}/writeback/keys/rotate`);
  }
}
