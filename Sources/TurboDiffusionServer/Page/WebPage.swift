import HTTPTypes
import Hummingbird
import NIOCore

/// The page at `/`: plain HTML, CSS and JavaScript carried in the binary (no build step, nothing
/// fetched from elsewhere, so it works offline). The content security policy allows only this
/// server's own scripts, styles and media.
enum WebPage {
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]

    static func response(_ text: String, type: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static let loginHTML = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>TurboDiffusion: token needed</title></head>
        <body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;line-height:1.5">
        <h1>Token needed</h1><p>This server requires its access token. Open the URL that
        <code>turbodiffusion webui</code> printed when it started (it ends in <code>?token=…</code>).</p>
        <p lang="zh">此服务器需要访问令牌。请打开 <code>turbodiffusion webui</code> 启动时打印的网址（以 <code>?token=…</code> 结尾）。</p>
        </body></html>
        """
}
