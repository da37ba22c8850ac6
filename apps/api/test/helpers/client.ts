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

  async function register(
    tenant: string,
    email: string,
    password = 'correct horse battery',
    invitation?: string,
  ) {
    return request<{ id: string; email: string; tenant: string; role: string }>(
      'POST',
      '/auth/register',
      { body: { tenant, email, password, ...(invitation === undefined ? {} : { invitation }) } },
    );
  }

  /** An admin invites `email`; returns the invitation token. */
  async function invite(adminToken: string, email: string, role?: string) {
    const response = await request<{
      token: string;
      email: string;
      role: string;
      expiresAt: string;
    }>('POST', '/api/v1/admin/invitations', {
      token: adminToken,
      body: { email, ...(role === undefined ? {} : { role }) },
    });
    if (response.status !== 201)
      throw new Error(`invite ${email}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.token;
  }

  /** Invites `email` into the admin's tenant and registers it with the invitation. */
  async function join(tenant: string, adminToken: string, email: string, role?: string) {
    const invitation = await invite(adminToken, email, role);
    const response = await register(tenant, email, undefined, invitation);
    if (response.status !== 201)
      throw new Error(`join ${email}: ${response.status} ${JSON.stringify(response.body)}`);
    return response;
  }

  async function login(tenant: string, email: string, password = 'correct horse battery') {
    const response = await request<{ token: string; expiresIn: string }>('POST', '/auth/login', {
      body: { tenant, email, password },
    });
    if (response.status !== 200)
      throw new Error(`login ${email}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.token;
  }

  return { request, register, login, invite, join };
}

let counter = 0;
/** A tenant slug no other test uses. */
export function uniqueTenant(label: string): string {
  counter += 1;
  return `${label}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
