// Interop peer for the counter tests: Apache Curator's DistributedAtomicLong (Debian's Curator 5.4) on
// the same znode as zk::DistributedCounter with the int64_be codec.
//
//   curator_counter_peer get HOSTS PATH                 -> prints "VALUE v" (Curator's reading)
//   curator_counter_peer increment HOSTS PATH N GO      -> prints READY once watching GO; after GO
//                                                         exists, N successful increments, then
//                                                         "VALUES v1 ..." and "RESULT ok=N ..."
// DistributedAtomicLong gives up (succeeded() == false) when its own retry policy runs out under
// contention; the peer then simply calls increment again, counting only successes.
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.Watcher;

public class CuratorCounterPeer {
  public static void main(String[] args) throws Exception {
    // Curator warns on every clamped backoff; only errors are worth a line in the test log.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
    if (args.length < 3) {
      System.err.println("usage: get HOSTS PATH | increment HOSTS PATH N GO");
      System.exit(2);
    }
    String mode = args[0];
    CuratorFramework client = CuratorFrameworkFactory.newClient(
        args[1], 10000, 10000, new ExponentialBackoffRetry(100, 5));
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.err.println("peer: not connected");
      System.exit(3);
    }
    // Backoff 2 ms doubling to 100 ms, 20 retries per call: comparable to zk::RetryPolicy's defaults.
    DistributedAtomicLong counter =
        new DistributedAtomicLong(client, args[2], new ExponentialBackoffRetry(2, 20, 100));
    if (mode.equals("get")) {
      AtomicValue<Long> v = counter.get();
      System.out.println("VALUE " + v.postValue());
      client.close();
      return;
    }
    int count = Integer.parseInt(args[3]);
    String go = args[4];
    CountDownLatch started = new CountDownLatch(1);
    if (client.checkExists().usingWatcher((Watcher) e -> started.countDown()).forPath(go) != null) {
      started.countDown();
    }
    System.out.println("READY");
    System.out.flush();
    if (!started.await(120, TimeUnit.SECONDS)) {
      System.err.println("peer: start node never appeared");
      System.exit(4);
    }
    long begin = System.nanoTime();
    long gaveUp = 0;
    StringBuilder values = new StringBuilder("VALUES");
    for (int done = 0; done < count; ) {
      AtomicValue<Long> r = counter.increment();
      if (r.succeeded()) {
        ++done;
        values.append(' ').append(r.postValue());
      } else {
        ++gaveUp;
      }
    }
    long ms = (System.nanoTime() - begin) / 1_000_000;
    System.out.println(values);
    System.out.println("RESULT ok=" + count + " gave_up=" + gaveUp + " elapsed_ms=" + ms);
    System.out.flush();
    client.close();
  }
}
