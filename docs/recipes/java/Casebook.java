// Calling Casebook from Java 17+ with java.net.http.HttpClient and Jackson
// (com.fasterxml.jackson.core:jackson-databind): the recipe of docs/recipes.md.
//
// Copy this class into your project. It keeps what every Casebook client
// needs in one place: a token from the client credentials grant, cached
// until shortly before it expires and fetched again once when a call answers
// 401 invalid_token; problem documents (RFC 9457) thrown as Casebook.Problem;
// lists followed page by page; an Idempotency-Key on every POST, the same on
// each retry of it.
//
//   var cb = new Casebook(URI.create("https://casebook.example.org"), clientId, clientSecret);
//   JsonNode me = cb.get("/api/v1/me");
//   JsonNode opened = cb.post("/api/v1/engage/cases", Map.of("title", "Family of four"));
//   cb.items("/api/v1/engage/cases").forEach(c -> System.out.println(c.get("title").asText()));
//
// For a tenant, the base URL is the tenant's: https://casebook.example.org/t/acme.
// `java Casebook.java URL CLIENT_ID CLIENT_SECRET` (with Jackson on the class
// path) runs a short demonstration against a server.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.UUID;

public final class Casebook {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Get a new token this long before the old one expires. */
    private static final Duration EXPIRY_MARGIN = Duration.ofSeconds(60);
    /** Answers worth sending the same request again for (a POST with the same key). */
    private static final Set<Integer> RETRY_STATUSES = Set.of(408, 429, 500, 502, 503, 504);
    private static final int ATTEMPTS = 3;

    private final String base;
    private final HttpClient http;
    private final Tokens tokens;

    public Casebook(URI baseUrl, String clientId, String clientSecret) {
        this.base = baseUrl.toString().replaceAll("/+$", "");
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        // A secret pasted with a trailing newline is the same secret.
        this.tokens = new Tokens(http, URI.create(base + "/oauth2/token"), clientId, clientSecret.strip());
    }

    /** How many tokens were fetched: for logs and metrics. */
    public int tokensFetched() {
        return tokens.fetched();
    }

    // ------------------------------------------------------------ tokens

    /** One cached token for every thread; one token request at a time. */
    static final class Tokens {
        private final HttpClient http;
        private final URI tokenUrl;
        private final String basic;
        private String token;
        private Instant refreshAt = Instant.MIN;
        private int fetched;

        Tokens(HttpClient http, URI tokenUrl, String clientId, String clientSecret) {
            this.http = http;
            this.tokenUrl = tokenUrl;
            // RFC 6749 §2.3.1: each half form-urlencoded, then Basic.
            String pair = form(clientId) + ":" + form(clientSecret);
            this.basic = "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
        }

        synchronized String token() throws IOException, InterruptedException {
            if (token == null || !Instant.now().isBefore(refreshAt)) {
                HttpRequest request = HttpRequest.newBuilder(tokenUrl)
                        .timeout(Duration.ofSeconds(10))
                        .header("Authorization", basic)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials"))
                        .build();
                HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                JsonNode body = JSON.readTree(response.body().isEmpty() ? "{}" : response.body());
                if (response.statusCode() != 200) {
                    throw new TokenError(response.statusCode(), body.path("error").asText(),
                            body.path("error_description").asText());
                }
                token = body.get("access_token").asText();
                long lifetime = body.path("expires_in").asLong(3600);
                refreshAt = Instant.now().plusSeconds(lifetime).minus(EXPIRY_MARGIN);
                fetched++;
            }
            return token;
        }

        /** Forget {@code stale}, unless another thread already replaced it. */
        synchronized void invalidate(String stale) {
            if (stale.equals(token)) {
                token = null;
            }
        }

        synchronized int fetched() {
            return fetched;
        }

        private static String form(String value) {
            return URLEncoder.encode(value, StandardCharsets.UTF_8);
        }
    }

    /** The token endpoint refused: an RFC 6749 error such as invalid_client. */
    public static final class TokenError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        public final int status;
        public final String error;

        TokenError(int status, String error, String description) {
            super("token endpoint " + status + " " + error + ": " + description);
            this.status = status;
            this.error = error;
        }
    }

    // ------------------------------------------------------------ problems

    public record FieldError(String field, String code, String message) {}

    /** An RFC 9457 problem document; requestId is X-Request-Id, to quote when asking for help. */
    public static final class Problem extends RuntimeException {
        private static final long serialVersionUID = 1L;
        public final int status;
        public final String type;
        public final String title;
        public final String detail;
        /** Every refused field of a 422. */
        public final List<FieldError> errors;
        public final String requestId;
        /** The whole document: missing_permissions, holders, … */
        public final JsonNode body;

        Problem(HttpResponse<String> response) {
            this.status = response.statusCode();
            this.requestId = response.headers().firstValue("X-Request-Id").orElse(null);
            JsonNode parsed;
            try {
                boolean problem = response.headers().firstValue("Content-Type").orElse("")
                        .startsWith("application/problem+json");
                parsed = problem ? JSON.readTree(response.body()) : JSON.createObjectNode();
            } catch (IOException e) {
                parsed = JSON.createObjectNode();
            }
            this.body = parsed;
            this.type = parsed.path("type").asText("about:blank");
            this.title = parsed.path("title").asText("HTTP " + status);
            this.detail = parsed.path("detail").asText("");
            List<FieldError> fields = new ArrayList<>();
            for (JsonNode e : parsed.path("errors")) {
                fields.add(new FieldError(e.path("field").asText(), e.path("code").asText(), e.path("message").asText()));
            }
            this.errors = List.copyOf(fields);
        }

        @Override
        public String getMessage() {
            return status + " " + title + ": " + detail + " (request id " + requestId + ")";
        }
    }

    // ------------------------------------------------------------ calls

    public JsonNode get(String pathAndQuery) throws IOException, InterruptedException {
        return JSON.readTree(send("GET", pathAndQuery, null, null).body());
    }

    /** A POST with a new Idempotency-Key. */
    public JsonNode post(String path, Object body) throws IOException, InterruptedException {
        return post(path, body, UUID.randomUUID().toString());
    }

    /** A POST with your key: one per logical call, the same on every retry of it. */
    public JsonNode post(String path, Object body, String idempotencyKey) throws IOException, InterruptedException {
        return JSON.readTree(send("POST", path, JSON.writeValueAsString(body), idempotencyKey).body());
    }

    public JsonNode patch(String path, Object body) throws IOException, InterruptedException {
        return JSON.readTree(send("PATCH", path, JSON.writeValueAsString(body), null).body());
    }

    public void delete(String path) throws IOException, InterruptedException {
        send("DELETE", path, null, null);
    }

    /**
     * One request: a token, one new token on 401 invalid_token, retries of
     * what is safe to repeat, and a Problem for any answer that is not a success.
     */
    public HttpResponse<String> send(String method, String path, String json, String idempotencyKey)
            throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            HttpResponse<String> response;
            try {
                response = sendWithToken(method, path, json, idempotencyKey);
            } catch (IOException e) {
                if (attempt == ATTEMPTS) throw e;
                Thread.sleep(500L * attempt);
                continue;
            }
            int status = response.statusCode();
            if (attempt < ATTEMPTS && retryable(response)) {
                Thread.sleep(retryAfterMillis(response, 500L * attempt));
                continue;
            }
            if (status >= 200 && status < 300) return response;
            if ("DELETE".equals(method) && status == 404 && attempt > 1) return response; // an earlier try removed it
            throw new Problem(response);
        }
    }

    private HttpResponse<String> sendWithToken(String method, String path, String json, String idempotencyKey)
            throws IOException, InterruptedException {
        String token = tokens.token();
        HttpResponse<String> response = http.send(request(method, path, json, idempotencyKey, token),
                HttpResponse.BodyHandlers.ofString());
        if (invalidToken(response)) {
            // Revoked, or ended by a secret rotation: one new token, one more try.
            tokens.invalidate(token);
            response = http.send(request(method, path, json, idempotencyKey, tokens.token()),
                    HttpResponse.BodyHandlers.ofString());
        }
        return response;
    }

    private HttpRequest request(String method, String path, String json, String idempotencyKey, String token) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json, application/problem+json");
        if ("POST".equals(method)) {
            builder.header("Idempotency-Key", idempotencyKey != null ? idempotencyKey : UUID.randomUUID().toString());
        }
        if (json != null) {
            builder.header("Content-Type", "application/json");
            return builder.method(method, HttpRequest.BodyPublishers.ofString(json)).build();
        }
        return builder.method(method, HttpRequest.BodyPublishers.noBody()).build();
    }

    static boolean invalidToken(HttpResponse<String> response) {
        return response.statusCode() == 401 && response.headers().allValues("WWW-Authenticate").stream()
                .anyMatch(challenge -> challenge.contains("error=\"invalid_token\""));
    }

    static boolean retryable(HttpResponse<String> response) {
        // A 409 with Retry-After: the first request with this key is still running.
        if (response.statusCode() == 409) return response.headers().firstValue("Retry-After").isPresent();
        return RETRY_STATUSES.contains(response.statusCode());
    }

    static long retryAfterMillis(HttpResponse<String> response, long fallback) {
        try {
            return Math.min(Long.parseLong(response.headers().firstValue("Retry-After").orElse("")) * 1000, 30_000);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    // ------------------------------------------------------------ paging

    /** Every item of a list, page by page: limit, then next_cursor until it is null. */
    public Iterable<JsonNode> items(String path) {
        return items(path, 100);
    }

    /** Every item of a list, {@code limit} (1 to 100) a page. */
    public Iterable<JsonNode> items(String path, int limit) {
        return () -> new Iterator<>() {
            private Iterator<JsonNode> page = List.<JsonNode>of().iterator();
            private String cursor;
            private boolean last;

            @Override
            public boolean hasNext() {
                while (!page.hasNext() && !last) {
                    String query = "?limit=" + limit + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
                    JsonNode answer;
                    try {
                        answer = get(path + query);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                    List<JsonNode> items = new ArrayList<>();
                    answer.path("items").forEach(items::add);
                    page = items.iterator();
                    JsonNode next = answer.path("next_cursor");
                    cursor = next.isTextual() ? next.asText() : null;
                    last = cursor == null;
                }
                return page.hasNext();
            }

            @Override
            public JsonNode next() {
                if (!hasNext()) throw new NoSuchElementException();
                return page.next();
            }
        };
    }

    // ------------------------------------------------------------ demonstration

    public static void main(String[] args) throws Exception {
        Casebook cb = new Casebook(URI.create(args[0]), args[1], args[2]);
        System.out.println("me: " + cb.get("/api/v1/me"));
        JsonNode opened = cb.post("/api/v1/engage/cases", Map.of("title", "Opened from Java"));
        System.out.println("opened " + opened.get("id").asText());
        int count = 0;
        for (JsonNode ignored : cb.items("/api/v1/engage/cases")) count++;
        System.out.println("cases: " + count);
        try {
            cb.post("/api/v1/engage/cases", Map.of("title", ""));
        } catch (Problem problem) {
            System.out.println("refused: " + problem.getMessage());
            problem.errors.forEach(e -> System.out.println("  " + e.field() + " " + e.code() + ": " + e.message()));
        }
        System.out.println("tokens fetched: " + cb.tokensFetched());
    }
}
