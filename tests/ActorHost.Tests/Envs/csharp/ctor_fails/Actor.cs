public class Actor
{
    public Actor() => throw new InvalidOperationException("no model configured");
    public int Ping() => 1;
}
