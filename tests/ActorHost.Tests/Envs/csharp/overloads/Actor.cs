public class Actor
{
    public int Score(int taskId) => taskId;
    public int Score(int taskId, int seed) => taskId + seed;
}
