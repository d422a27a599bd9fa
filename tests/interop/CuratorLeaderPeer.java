// A Curator leader-election participant for the leader-election interop tests.
//
//   CuratorLeaderPeer HOSTS PATH latch|selector ID STATE_PATH TERMS WRITES
//
// latch: a LeaderLatch(PATH, ID) per term, closed (SILENT) to end the term; a new one rejoins at the back.
// selector: a LeaderSelector(PATH) with setId(ID) and autoRequeue(); one takeLeadership() is one term.
// Prints "READY" once connected, starts on a line from stdin (a common start), leads TERMS times
// (0: until killed), then prints "DONE" and exits 0. A term, whose token is our election node's czxid:
//   TERM_BEGIN <token> <pid> <ns>
//   WRITES (0: unbounded) transactions check(our node, -1) + setData(STATE_PATH, "<token> <pid> <i>"):
//     WRITE <token> <mzxid of the setData> <pid>    committed
//     REFUSED <token> <pid>                         failed with an error result (e.g. our node is gone)
//     UNKNOWN <token> <pid>                         outcome unknown (connection loss, session expiry,
//                                                   interrupt): the term stops writing
//   TERM_END <token> <pid> <ns>                     just before giving up leadership
// A term also stops writing once leadership is known lost (latch: hasLeadership() false; selector:
// interrupted by LeaderSelectorListenerAdapter on SUSPENDED/LOST). Times are System.nanoTime(), i.e.
// CLOCK_MONOTONIC on Linux, the clock of the C++ and Python peers.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

public class CuratorLeaderPeer {
  static CuratorFramework client;
  static String statePath;
  static int writes;
  static final long pid = ProcessHandle.current().pid();

  static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  // LeaderSelector keeps its InterProcessMutex private: our node is the child of PATH that our session
  // owns (the lowest sequence number, should there be more than one).
  static String selectorNode(String path) throws Exception {
    final long session = client.getZookeeperClient().getZooKeeper().getSessionId();
    String best = null;
    for (String child : client.getChildren().forPath(path)) {
      Stat stat = client.checkExists().forPath(path + "/" + child);
      if (stat != null && stat.getEphemeralOwner() == session && (best == null || seq(child) < seq(best)))
        best = child;
    }
    return best == null ? null : path + "/" + best;
  }

  static long seq(String node) { return Long.parseLong(node.substring(node.length() - 10)); }

  static void term(String node, BooleanSupplier leading) {
    Stat stat = null;
    try {
      if (node != null) stat = client.checkExists().forPath(node);
    } catch (Exception e) {  // as if our node were gone
    }
    final long token = stat == null ? 0 : stat.getCzxid();  // 0: our node is already gone
    say("TERM_BEGIN " + token + " " + pid + " " + System.nanoTime());
    for (int i = 0; (writes == 0 || i < writes) && leading.getAsBoolean(); ++i) {
      if (i > 0) {
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          break;  // the selector cancelled our leadership
        }
      }
      if (stat == null) {
        say("REFUSED " + token + " " + pid);
        if (writes == 0) break;
        continue;
      }
      try {
        byte[] data = (token + " " + pid + " " + i).getBytes(StandardCharsets.UTF_8);
        List<CuratorTransactionResult> results = client.transaction().forOperations(
            client.transactionOp().check().withVersion(-1).forPath(node),
            client.transactionOp().setData().forPath(statePath, data));
        say("WRITE " + token + " " + results.get(1).getResultStat().getMzxid() + " " + pid);
      } catch (KeeperException e) {
        final KeeperException.Code c = e.code();
        if (c == KeeperException.Code.CONNECTIONLOSS || c == KeeperException.Code.SESSIONEXPIRED
            || c == KeeperException.Code.OPERATIONTIMEOUT || c == KeeperException.Code.SESSIONMOVED) {
          say("UNKNOWN " + token + " " + pid);
          break;
        }
        say("REFUSED " + token + " " + pid);
      } catch (Exception e) {  // e.g. interrupted while the transaction was in flight
        say("UNKNOWN " + token + " " + pid);
        break;
      }
    }
    say("TERM_END " + token + " " + pid + " " + System.nanoTime());
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 7 || !(args[2].equals("latch") || args[2].equals("selector"))) {
      System.err.println("usage: CuratorLeaderPeer HOSTS PATH latch|selector ID STATE_PATH TERMS WRITES");
      System.exit(2);
    }
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    final String hosts = args[0], path = args[1], mode = args[2], id = args[3];
    statePath = args[4];
    final int terms = Integer.parseInt(args[5]);
    writes = Integer.parseInt(args[6]);
    // ZKR_PEER_SESSION_MS: the benchmark's failover runs give every participant the same timeout.
    final String sessionMs = System.getenv("ZKR_PEER_SESSION_MS");
    final int sessionTimeout = sessionMs == null ? 6000 : Integer.parseInt(sessionMs);
    client = CuratorFrameworkFactory.newClient(hosts, sessionTimeout, 5000,
        new ExponentialBackoffRetry(100, 10));
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.err.println("could not connect to " + hosts);
      System.exit(1);
    }
    say("READY");
    new BufferedReader(new InputStreamReader(System.in)).readLine();
    if (mode.equals("latch")) {
      for (int t = 0; terms == 0 || t < terms; ++t) {
        LeaderLatch latch = new LeaderLatch(client, path, id);
        latch.start();
        latch.await();
        term(latch.getOurPath(), latch::hasLeadership);
        latch.close(LeaderLatch.CloseMode.SILENT);  // deletes our node (guaranteed, in the background)
      }
    } else {
      final AtomicInteger led = new AtomicInteger();
      final CountDownLatch finished = new CountDownLatch(1);
      final String[] lastNode = new String[1];
      LeaderSelector selector = new LeaderSelector(client, path, new LeaderSelectorListenerAdapter() {
        @Override
        public void takeLeadership(CuratorFramework c) throws Exception {
          if (terms == 0 || led.get() < terms) {
            lastNode[0] = selectorNode(path);
            term(lastNode[0], () -> true);
            if (led.incrementAndGet() == terms) finished.countDown();
          }
          // After the last term keep the mutex until close() interrupts us: autoRequeue would rejoin.
          if (terms > 0 && led.get() >= terms) Thread.sleep(Long.MAX_VALUE);
        }
      });
      selector.setId(id);
      selector.autoRequeue();
      selector.start();
      finished.await();
      selector.close();  // interrupts takeLeadership; the selector then releases its mutex, no requeue
      final String last = lastNode[0];  // let the selector's release finish before closing the client
      for (int i = 0; i < 500 && last != null && client.checkExists().forPath(last) != null; ++i)
        Thread.sleep(10);
    }
    say("DONE");
    client.close();
  }
}
