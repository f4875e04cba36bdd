import './base.css';
import './readiness.css';
