using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// A run's tasks as files to take elsewhere: CSV (one row per task, the result as JSON text in its last column) and
/// JSON (<c>afs show --json</c>'s document: the run, its summary and every task with its result), written as they are
/// read, a task at a time.
/// </summary>
internal static class RunExport
{
    private static readonly string[] CsvColumns =
        ["task_id", "score", "success", "error_kind", "error", "attempts", "duration_ms", "started_at", "from_cache", "llm_requests", "prompt_tokens", "completion_tokens", "result"];

    public static async Task WriteCsvAsync(Stream output, IReadOnlyList<TaskResult> results, CancellationToken cancellationToken)
    {
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        await writer.WriteLineAsync(string.Join(',', CsvColumns));
        var fields = new string?[CsvColumns.Length];
        foreach (var r in results)
        {
            cancellationToken.ThrowIfCancellationRequested();
            fields[0] = r.TaskId.ToString(CultureInfo.InvariantCulture);
            fields[1] = r.Score.ToString("R", CultureInfo.InvariantCulture);
            fields[2] = r.Success ? "true" : "false";
            fields[3] = r.Completed ? "" : TaskErrorKinds.Name(r.ErrorKind);
            fields[4] = r.Error;
            fields[5] = r.Attempts.ToString(CultureInfo.InvariantCulture);
            fields[6] = Math.Round(r.Duration.TotalMilliseconds, 3).ToString(CultureInfo.InvariantCulture);
            fields[7] = r.StartedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
            fields[8] = r.FromCache ? "true" : "false";
            fields[9] = r.LlmUsage?.Requests.ToString(CultureInfo.InvariantCulture);
            fields[10] = r.LlmUsage?.PromptTokens.ToString(CultureInfo.InvariantCulture);
            fields[11] = r.LlmUsage?.CompletionTokens.ToString(CultureInfo.InvariantCulture);
            fields[12] = r.Value is { } value ? JsonSerializer.Serialize(value, AfsConsole.JsonOptions) : null;
            await writer.WriteLineAsync(string.Join(',', fields.Select(Quote)));
        }
    }

    public static async Task WriteJsonAsync(Stream output, RunInfo run, IReadOnlyList<TaskResult> results, CancellationToken cancellationToken)
    {
        // Into a buffer, handed to the stream asynchronously now and then: the serializer flushes its writer
        // synchronously, which a server's response refuses.
        var buffer = new ArrayBufferWriter<byte>(128 * 1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = AfsConsole.JsonOptions.Encoder, MaxDepth = AfsConsole.JsonOptions.MaxDepth }))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("run");
            JsonSerializer.Serialize(writer, ResultViews.Json(run), AfsConsole.JsonOptions);
            writer.WritePropertyName("summary");
            JsonSerializer.Serialize(writer, ResultViews.Json(EvaluationSummary.Of([.. results])), AfsConsole.JsonOptions);
            writer.WriteStartArray("tasks");
            foreach (var r in results)
            {
                JsonSerializer.Serialize(writer, ResultViews.Json(run.Id, r), AfsConsole.JsonOptions);
                writer.Flush();
                if (buffer.WrittenCount > 64 * 1024)
                {
                    await output.WriteAsync(buffer.WrittenMemory, cancellationToken);
                    buffer.ResetWrittenCount();
                }
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        await output.WriteAsync(buffer.WrittenMemory, cancellationToken);
    }

    /// <summary>A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; a leading formula sign is made text.</summary>
    private static string Quote(string? field)
    {
        if (string.IsNullOrEmpty(field))
        {
            return "";
        }
        // A spreadsheet would run "=..." as a formula: an environment's text is never code there.
        if (field[0] is '=' or '+' or '-' or '@' && !double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            field = "'" + field;
        }
        return field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
    }
}
