using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.Injector.Tests;

[Trait(Tiers.Name, Tiers.Docker)]
public sealed class BaseImageSmokeTests
{
    [Fact]
    public async Task BaseImage_ServesHttpOnPortPublishedOnLoopback()
    {
        using var docker = DockerEngine.CreateClient();
        await DockerEngine.RequireImageAsync(docker, DockerEngine.PythonBaseImage);
        const string server = """
            import http.server, json, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = json.dumps({"python": sys.version.split()[0], "path": self.path}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
            """;

        await using var container = await DockerEngine.RunAsync(docker, DockerEngine.PythonBaseImage,
            ["python3", "-c", server], 8000).Within(what: "starting the container");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{container.HostPort}") };
        JsonElement answer = default;
        await Bounded.Until(async () =>
        {
            try
            {
                answer = await http.GetFromJsonAsync<JsonElement>("/smoke");
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "the container answering on 127.0.0.1");

        Assert.Equal("/smoke", answer.GetProperty("path").GetString());
        Assert.StartsWith("3.11.", answer.GetProperty("python").GetString());
    }

    [Fact]
    public async Task BaseImage_HasSharedLibpythonAndOfficialImageAliases()
    {
        using var docker = DockerEngine.CreateClient();
        await DockerEngine.RequireImageAsync(docker, DockerEngine.PythonBaseImage);
        var alias = await docker.Images.InspectImageAsync("python:3.11-slim");
        var image = await docker.Images.InspectImageAsync(DockerEngine.PythonBaseImage);
        Assert.Equal("true", image.Config!.Labels!["affinetes.base.local"]);
        Assert.Equal(image.ID, alias.ID);
    }
}
