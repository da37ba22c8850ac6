/** A tiny JSON client for end-to-end tests against a listening API. */
export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export function apiClient(baseUrl: string) {
  async function request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: {
      token?: string;
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      payload = JSON.stringify(options.body);
    }
    const response = await fetch(baseUrl + path, { method, headers, body: payload });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: leave the text for the assertion to show
    }
    return { status: response.status, headers: response.headers, body: body as T };
  }

  async function register(tenant: string, email: string, password = 'correct horse battery') {
    return request<{ id: string; email: string; tenant: string; role: string }>(
      'POST',
      '/auth/register',
      {
        body: { tenant, email, password },
      },
    );
  }

  async function login(tenant: string, email: string, password = 'correct horse battery') {
    const response = await request<{ token: string; expiresIn: string }>('POST', '/auth/login', {
      body: { tenant, email, password },
    });
    if (response.status !== 200)
      throw new Error(`login ${email}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.token;
  }

  return { request, register, login };
}

let counter = 0;
/** A tenant slug no other test uses. */
export function uniqueTenant(label: string): string {
  counter += 1;
  return `${label}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
