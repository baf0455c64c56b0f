# /etc/profile.d/seq2seq-lasagne.sh in the image (the Dockerfile installs it).
# Login shells read /etc/profile, which sets PATH anew and drops the venv;
# JupyterLab's terminals under jupyterhub-singleuser are such shells
# ("$SHELL -l"), and without this "seq2seq-lasagne" is "not found" there.
case ":${PATH}:" in
    *:/opt/venv/bin:*) ;;
    *) PATH="/opt/venv/bin:${PATH}"; export PATH ;;
esac
