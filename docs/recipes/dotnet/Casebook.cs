// Calling Casebook from .NET 8 with HttpClient, a DelegatingHandler pair and
// System.Text.Json: the recipe of docs/recipes.md.
//
// Copy this file into your project (no package beyond the framework;
// AddHttpClient is Microsoft.Extensions.Http). It keeps what every Casebook
// client needs in one place:
//
// - CasebookTokenSource: a token from the client credentials grant, cached
//   for every request and thread until shortly before it expires.
// - CasebookAuthHandler: puts the token on each request and, when a call
//   answers 401 invalid_token (the token was revoked or ended early), gets
//   a new one and sends the call again, once.
// - CasebookRetryHandler: an Idempotency-Key on every POST, the same on each
//   retry of it, and retries of what is safe to repeat.
// - CasebookClient: JSON in and out, CasebookProblemException for problem
//   documents (RFC 9457), and ItemsAsync that follows next_cursor.
//
//   services.AddCasebook(new CasebookOptions
//   {
//       BaseUrl = new Uri("https://casebook.example.org/"),   // a tenant's: https://casebook.example.org/t/acme/
//       ClientId = config["Casebook:ClientId"]!,
//       ClientSecret = config["Casebook:ClientSecret"]!,
//   });
//   ...
//   var me = await casebook.GetAsync("api/v1/me");
//   var opened = await casebook.PostAsync("api/v1/engage/cases", new { title = "Family of four" });
//   await foreach (var item in casebook.ItemsAsync("api/v1/engage/cases")) { ... }
//
// Paths are relative and the base URL ends with '/': HttpClient drops the
// base URL's path (a tenant's /t/acme) for a path that starts with '/'.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Casebook.Recipes;

public sealed class CasebookOptions
{
    /// <summary>The install's public URL or a tenant's base URL, ending with '/'.</summary>
    public required Uri BaseUrl { get; init; }
    public required string ClientId { get; init; }
    public required string ClientSecret { get; init; }
}

public static class CasebookServiceCollectionExtensions
{
    public static IServiceCollection AddCasebook(this IServiceCollection services, CasebookOptions options)
    {
        if (!options.BaseUrl.AbsoluteUri.EndsWith('/'))
        {
            throw new ArgumentException("end the base URL with '/', or a tenant's /t/{slug} is lost", nameof(options));
        }
        services.AddSingleton(options);
        // The token endpoint is called with a plain client: its requests must
        // not go through the handlers that need a token.
        services.AddHttpClient(CasebookTokenSource.HttpClientName);
        services.AddSingleton<CasebookTokenSource>();
        services.AddTransient<CasebookRetryHandler>();
        services.AddTransient<CasebookAuthHandler>();
        services.AddHttpClient<CasebookClient>(http =>
            {
                http.BaseAddress = options.BaseUrl;
                http.Timeout = TimeSpan.FromSeconds(30);
            })
            // The first added is the outermost: each retry gets a token anew.
            .AddHttpMessageHandler<CasebookRetryHandler>()
            .AddHttpMessageHandler<CasebookAuthHandler>();
        return services;
    }
}

// ---------------------------------------------------------------- tokens

public sealed class CasebookTokenSource
{
    public const string HttpClientName = "casebook-token";
    /// <summary>Get a new token this long before the old one expires.</summary>
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(60);

    private readonly IHttpClientFactory _factory;
    private readonly Uri _tokenUrl;
    private readonly AuthenticationHeaderValue _basic;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private string? _token;
    private DateTimeOffset _refreshAt;
    private int _fetched;

    public CasebookTokenSource(IHttpClientFactory factory, CasebookOptions options)
    {
        _factory = factory;
        _tokenUrl = new Uri(options.BaseUrl, "oauth2/token");
        // RFC 6749 §2.3.1: each half form-urlencoded, then Basic. A secret
        // pasted with a trailing newline is the same secret.
        var pair = $"{WebUtility.UrlEncode(options.ClientId)}:{WebUtility.UrlEncode(options.ClientSecret.Trim())}";
        _basic = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pair)));
    }

    /// <summary>How many tokens were fetched: for logs and metrics.</summary>
    public int Fetched => Volatile.Read(ref _fetched);

    public async Task<string> GetTokenAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            if (_token is { } cached && DateTimeOffset.UtcNow < _refreshAt)
            {
                return cached;
            }
            using var request = new HttpRequestMessage(HttpMethod.Post, _tokenUrl)
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
            };
            request.Headers.Authorization = _basic;
            using var response = await _factory.CreateClient(HttpClientName).SendAsync(request, ct);
            var body = await ReadJson(response, ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new CasebookTokenException((int)response.StatusCode, Text(body, "error"), Text(body, "error_description"));
            }
            var token = body.GetProperty("access_token").GetString()!;
            var lifetime = body.TryGetProperty("expires_in", out var seconds) ? seconds.GetInt64() : 3600;
            _refreshAt = DateTimeOffset.UtcNow.AddSeconds(lifetime) - ExpiryMargin;
            _token = token;
            Interlocked.Increment(ref _fetched);
            return token;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Forget <paramref name="stale"/>, unless another request already replaced it.</summary>
    public void Invalidate(string stale) => Interlocked.CompareExchange(ref _token, null, stale);

    internal static async Task<JsonElement> ReadJson(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            return JsonSerializer.Deserialize<JsonElement>(text.Length == 0 ? "{}" : text);
        }
        catch (JsonException)
        {
            return JsonSerializer.Deserialize<JsonElement>("{}");
        }
    }

    internal static string Text(JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : "";
}

/// <summary>The token endpoint refused: an RFC 6749 error such as invalid_client.</summary>
public sealed class CasebookTokenException(int status, string error, string description)
    : Exception($"token endpoint {status} {error}: {description}")
{
    public int Status { get; } = status;
    public string Error { get; } = error;
}

// ---------------------------------------------------------------- handlers

/// <summary>Bearer tokens on every request, and one new token on 401 invalid_token.</summary>
public sealed class CasebookAuthHandler(CasebookTokenSource tokens) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var token = await tokens.GetTokenAsync(ct);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, ct);
        if (!IsInvalidToken(response))
        {
            return response;
        }
        // Revoked, or ended by a secret rotation: one new token, one more
        // try. A second 401 is the caller's to see.
        response.Dispose();
        tokens.Invalidate(token);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(ct));
        return await base.SendAsync(request, ct);
    }

    private static bool IsInvalidToken(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.Unauthorized
        && response.Headers.TryGetValues("WWW-Authenticate", out var challenges)
        && challenges.Any(challenge => challenge.Contains("error=\"invalid_token\"", StringComparison.Ordinal));
}

/// <summary>
/// An Idempotency-Key on every POST, and up to three tries of what is safe to
/// repeat: GET, PATCH, and a POST with its key (the server answers a repeat
/// with the first answer, <c>Idempotent-Replayed: true</c>, and does nothing
/// twice). A DELETE is not retried here: a retry after a lost answer would
/// say 404 for a removal that happened.
/// </summary>
public sealed class CasebookRetryHandler : DelegatingHandler
{
    private const int Attempts = 3;
    private static readonly HashSet<HttpStatusCode> RetryStatuses =
    [
        HttpStatusCode.RequestTimeout, HttpStatusCode.TooManyRequests, HttpStatusCode.InternalServerError,
        HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable, HttpStatusCode.GatewayTimeout,
    ];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        if (request.Method == HttpMethod.Post && !request.Headers.Contains("Idempotency-Key"))
        {
            // One key per logical call, the same on every retry of it.
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        }
        var repeatable = request.Method == HttpMethod.Get || request.Method == HttpMethod.Patch || request.Method == HttpMethod.Post;
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, ct);
            }
            catch (HttpRequestException) when (repeatable && attempt < Attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), ct);
                continue;
            }
            if (!repeatable || attempt == Attempts || !Retryable(response))
            {
                return response;
            }
            var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(500 * attempt);
            response.Dispose();
            await Task.Delay(wait < TimeSpan.FromSeconds(30) ? wait : TimeSpan.FromSeconds(30), ct);
        }
    }

    // A 409 with Retry-After: the first request with this key is still
    // running. Any other 409 is a conflict to resolve, not to retry.
    private static bool Retryable(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.Conflict
            ? response.Headers.RetryAfter is not null
            : RetryStatuses.Contains(response.StatusCode);
}

// ---------------------------------------------------------------- problems

public sealed record CasebookFieldError(string Field, string Code, string Message);

/// <summary>
/// An RFC 9457 problem document, or any other answer that is not a success.
/// <see cref="Errors"/> lists every refused field of a 422; <see cref="RequestId"/>
/// is the server's X-Request-Id: quote it when you ask for help.
/// </summary>
public sealed class CasebookProblemException(int status, string type, string title, string detail,
    IReadOnlyList<CasebookFieldError> errors, string? requestId, JsonElement body)
    : Exception($"{status} {title}: {detail} (request id {requestId})")
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string Title { get; } = title;
    public string Detail { get; } = detail;
    public IReadOnlyList<CasebookFieldError> Errors { get; } = errors;
    public string? RequestId { get; } = requestId;
    /// <summary>The whole document: missing_permissions, holders, …</summary>
    public JsonElement Body { get; } = body;

    public static async Task<CasebookProblemException> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var isProblem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
        var body = isProblem
            ? await CasebookTokenSource.ReadJson(response, ct)
            : JsonSerializer.Deserialize<JsonElement>("{}");
        var errors = new List<CasebookFieldError>();
        if (body.TryGetProperty("errors", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in list.EnumerateArray())
            {
                errors.Add(new CasebookFieldError(
                    CasebookTokenSource.Text(e, "field"), CasebookTokenSource.Text(e, "code"), CasebookTokenSource.Text(e, "message")));
            }
        }
        var title = CasebookTokenSource.Text(body, "title");
        var type = CasebookTokenSource.Text(body, "type");
        return new CasebookProblemException(
            (int)response.StatusCode,
            type.Length > 0 ? type : "about:blank",
            title.Length > 0 ? title : response.ReasonPhrase ?? "",
            CasebookTokenSource.Text(body, "detail"),
            errors,
            response.Headers.TryGetValues("X-Request-Id", out var ids) ? ids.FirstOrDefault() : null,
            body);
    }
}

// ---------------------------------------------------------------- client

public sealed class CasebookClient(HttpClient http)
{
    public Task<JsonElement> GetAsync(string path, CancellationToken ct = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, path), ct);

    /// <summary>A POST; give <paramref name="idempotencyKey"/> to keep one key across your own retries.</summary>
    public Task<JsonElement> PostAsync<T>(string path, T body, string? idempotencyKey = null, CancellationToken ct = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return SendAsync(request, ct);
    }

    public Task<JsonElement> PatchAsync<T>(string path, T body, CancellationToken ct = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Patch, path) { Content = Json(body) }, ct);

    public async Task DeleteAsync(string path, CancellationToken ct = default) =>
        await SendAsync(new HttpRequestMessage(HttpMethod.Delete, path), ct);

    /// <summary>Every item of a list, page by page: limit, then next_cursor until it is null.</summary>
    public async IAsyncEnumerable<JsonElement> ItemsAsync(string path, int limit = 100,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        string? cursor = null;
        do
        {
            var query = $"?limit={limit}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = await GetAsync(path + query, ct);
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                yield return item;
            }
            cursor = page.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String
                ? next.GetString()
                : null;
        } while (cursor is not null);
    }

    private async Task<JsonElement> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using (request)
        {
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("application/problem+json");
            using var response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw await CasebookProblemException.ReadAsync(response, ct);
            }
            return response.StatusCode == HttpStatusCode.NoContent
                ? default
                : await CasebookTokenSource.ReadJson(response, ct);
        }
    }

    private static StringContent Json<T>(T body) =>
        new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
