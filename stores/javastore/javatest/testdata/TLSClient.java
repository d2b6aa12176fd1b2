import java.io.InputStream;
import java.io.OutputStream;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * Connects to 127.0.0.1:PORT with TLS, trusting only the truststore named by
 * the environment (RS_TRUSTSTORE, RS_TRUSTSTORE_TYPE and, when set,
 * RS_TRUSTSTORE_PASSWORD), through the standard javax.net.ssl.trustStore*
 * system properties. The password never appears on a command line.
 * Prints "handshake ok" and exits 0, or prints the failure and exits 1.
 */
public class TLSClient {
    public static void main(String[] args) throws Exception {
        System.setProperty("javax.net.ssl.trustStore", System.getenv("RS_TRUSTSTORE"));
        System.setProperty("javax.net.ssl.trustStoreType", System.getenv("RS_TRUSTSTORE_TYPE"));
        String pw = System.getenv("RS_TRUSTSTORE_PASSWORD");
        if (pw != null) {
            System.setProperty("javax.net.ssl.trustStorePassword", pw);
        }
        int port = Integer.parseInt(args[0]);
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        try (SSLSocket s = (SSLSocket) f.createSocket("127.0.0.1", port)) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            OutputStream out = s.getOutputStream();
            out.write("ping\n".getBytes("US-ASCII"));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[64];
            int n = in.read(buf);
            System.out.println("handshake ok: " + (n > 0 ? new String(buf, 0, n, "US-ASCII").trim() : ""));
        } catch (Exception e) {
            System.out.println("handshake failed: " + e);
            System.exit(1);
        }
    }
}
